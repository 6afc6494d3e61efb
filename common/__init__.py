"""What web, the algorithm service and the worker all need: settings read once from the
environment, the limits, the log format, the wire constants between web and the algorithm
service, and the prediction coalescer. It imports nothing of theirs, and no Django."""
