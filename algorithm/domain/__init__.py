"""The domain: models on the volume, jobs, training, evaluation, the data source, monitoring
and retention. No transport, no Celery, no Flask, no gRPC server: the serving process, the
worker and the operator tools all call into it."""
