-- wrk script: POST the JSON body given after `--` with the Authorization header (if any),
-- and print the run's figures as one JSON line that bench/load.py reads.
-- Usage: wrk ... -s bench/wrk_report.lua URL -- AUTHORIZATION BODY

function init(args)
  wrk.method = "POST"
  wrk.body = args[2]
  wrk.headers["Content-Type"] = "application/json"
  if args[1] ~= "" then
    wrk.headers["Authorization"] = args[1]
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local percentiles = {}
  for _, p in ipairs({1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9}) do
    percentiles[#percentiles + 1] = string.format('"%g": %d', p, latency:percentile(p))
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": %d, "percentiles_us": {%s}}\n',
    summary.requests,
    summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout + errors.status,
    table.concat(percentiles, ", ")
  ))
end
