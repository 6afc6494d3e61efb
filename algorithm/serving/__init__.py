"""The serving process: gRPC servicers, the Flask shim, the registry of loaded models and its
watcher, the service credential, metrics and the inference protocol."""
