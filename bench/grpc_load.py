"""A closed-loop gRPC load generator, run in its own process by bench.load.

Usage: ``python -m bench.grpc_load TARGET METHOD CONCURRENCY SECONDS [CHANNELS] <
REQUEST_JSON``, METHOD one of METHODS; the calls go round CHANNELS connections (default 1):
one connection reaches one process of a server that runs several on a port (SO_REUSEPORT).
Prints one ``BENCH_JSON {...}`` line with the figures.
"""

import asyncio
import json
import sys
import time

import grpc
from google.protobuf import json_format

from algorithm.inference import grpc_predict_v2_pb2 as oip_pb2
from algorithm.v1 import prediction_pb2
from bench.load import figure_from_latencies
from common.wire import AUTHORIZATION_METADATA
from tests import support

METHODS = {
    "Predict": (
        "/algorithm.v1.PredictionService/Predict",
        prediction_pb2.PredictRequest,
        prediction_pb2.PredictResponse,
    ),
    "PredictBatch": (
        "/algorithm.v1.PredictionService/PredictBatch",
        prediction_pb2.PredictBatchRequest,
        prediction_pb2.PredictBatchResponse,
    ),
    "EmptyPredict": (
        "/bench.v1.EmptyService/Predict",
        prediction_pb2.PredictRequest,
        prediction_pb2.PredictResponse,
    ),
    # The Open Inference Protocol's call, as standard clients make it.
    "ModelInfer": (
        "/inference.GRPCInferenceService/ModelInfer",
        oip_pb2.ModelInferRequest,
        oip_pb2.ModelInferResponse,
    ),
}
DEADLINE_SECONDS = 10


async def _load(
    target: str, method: str, request: dict, concurrency: int, seconds: float, channels: int
):
    path, request_type, response_type = METHODS[method]
    message = json_format.ParseDict(request, request_type())
    # A subchannel pool of each channel's own: grpcio shares one connection between channels
    # to one target otherwise.
    options = [
        ("grpc.max_receive_message_length", 16 << 20),
        ("grpc.use_local_subchannel_pool", 1),
    ]
    opened = [grpc.aio.insecure_channel(target, options=options) for _ in range(channels)]
    try:
        calls = [
            channel.unary_unary(
                path,
                request_serializer=request_type.SerializeToString,
                response_deserializer=response_type.FromString,
            )
            for channel in opened
        ]
        metadata = ((AUTHORIZATION_METADATA, support.service_authorization()),)
        for call in calls:  # connect, and check
            await call(message, timeout=DEADLINE_SECONDS, metadata=metadata)
        latencies: list[float] = []
        errors = 0
        end = time.perf_counter() + seconds

        async def client(call) -> None:
            nonlocal errors
            while (start := time.perf_counter()) < end:
                try:
                    await call(message, timeout=DEADLINE_SECONDS, metadata=metadata)
                except grpc.aio.AioRpcError:
                    errors += 1
                else:
                    latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(client(calls[index % channels]) for index in range(concurrency)))
        elapsed = time.perf_counter() - began
    finally:
        for channel in opened:
            await channel.close()
    return figure_from_latencies([seconds * 1000 for seconds in latencies], elapsed, errors)


def main() -> None:
    target, method, concurrency, seconds, *channels = sys.argv[1:]
    request = json.load(sys.stdin)
    result = asyncio.run(
        _load(
            target,
            method,
            request,
            int(concurrency),
            float(seconds),
            int(channels[0]) if channels else 1,
        )
    )
    print("BENCH_JSON", json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
