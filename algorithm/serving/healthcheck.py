"""Container health check for the algorithm service: ``python -m algorithm.serving.healthcheck``.

Healthy when the gRPC server answers SERVING on grpc.health.v1 and the Flask shim answers
/health, both within a few seconds.
"""

import sys
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from common import settings as common_settings

TIMEOUT_SECONDS = 3


def grpc_serving() -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{common_settings.ALGORITHM_GRPC_PORT}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS
        )
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def http_ok() -> bool:
    url = f"http://127.0.0.1:{common_settings.ALGORITHM_HTTP_PORT}/health"
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        return response.status == 200


def main() -> int:
    for name, check in (("gRPC health", grpc_serving), ("Flask shim /health", http_ok)):
        try:
            healthy = check()
        except (grpc.RpcError, OSError) as error:
            print(f"{name}: {error}", file=sys.stderr)
            return 1
        if not healthy:
            print(f"{name}: not serving", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
