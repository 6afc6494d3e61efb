"""The TrafficService servicer (algorithm/serving/services/traffic.py), apart from
grpc_servicers.py's so that each module holds one kind of thing at a readable length."""

from algorithm.serving.grpc_servicers import _call
from algorithm.serving.services import traffic
from algorithm.v1 import traffic_pb2_grpc
from common.proto_json import as_json


class TrafficServicer(traffic_pb2_grpc.TrafficServiceServicer):
    def GetTraffic(self, request, context):
        return _call(context, traffic.get_traffic)

    def SetTraffic(self, request, context):
        return _call(
            context,
            traffic.set_traffic,
            canary=as_json(request.canary) if request.HasField("canary") else None,
            shadow=as_json(request.shadow) if request.HasField("shadow") else None,
        )

    def ClearTraffic(self, request, context):
        return _call(context, traffic.clear_traffic)

    def GetShadowAgreement(self, request, context):
        return _call(context, traffic.get_shadow_agreement, model_id=request.model_id)
