"""Say when `make run`'s stack is ready, by web's readiness check (/api/health/: the
database, Redis and the algorithm service answer), and whether a model answers predictions.

`make run` starts it beside the stack; it exits once it has said so, or after
TIMEOUT_SECONDS with what is still missing.
"""

import json
import sys
import time
import urllib.error
import urllib.request

from common.settings import WEB_PORT

TIMEOUT_SECONDS = 180


def readiness(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error) if error.code == 503 else None
    except (OSError, ValueError):
        return None


def main() -> int:
    url = f"http://127.0.0.1:{WEB_PORT}/api/health/"
    deadline = time.monotonic() + TIMEOUT_SECONDS
    state = None
    while time.monotonic() < deadline:
        state = readiness(url)
        if state and state["status"] == "ok":
            model = "a model answers" if state["predictions"] == "ok" else "no model yet: train one"
            print(f"Ready: {url} ({model}).", flush=True)
            return 0
        time.sleep(0.5)
    waiting = [name for name, check in (state or {}).get("checks", {}).items() if check != "ok"]
    print(f"Not ready after {TIMEOUT_SECONDS} s: {', '.join(waiting) or 'web'}.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
