"""What the algorithm service does, as plain functions, one module per proto service:
prediction, training (and jobs), models (versions, evaluations, metric records),
monitoring (schedules, results, accuracy), info, and the inference protocol.

They answer with the algorithm.v1 messages (built with common.proto_json.from_json), except
predictions, which stay plain dicts on the hot path. The gRPC servicers return those
messages; the Flask shim writes them out with common.proto_json.as_json; ServiceError
subclasses become each side's status codes.
"""
