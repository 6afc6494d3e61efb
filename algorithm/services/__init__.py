"""What the algorithm service does, as plain functions, one module per proto service:
prediction, training (and jobs), models (versions, evaluations, metric records) and info.
MonitoringService's functions are algorithm.monitoring's.

The gRPC servicers and the Flask shim both call these and only translate: requests in,
dicts out, ServiceError subclasses to their status codes.
"""
