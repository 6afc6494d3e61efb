"""Every kind of service error has its own gRPC status and shim HTTP status, decided in
algorithm.serving.error_status; a kind added to the domain without one fails here."""

import grpc
import pytest

from algorithm.domain import errors
from algorithm.serving.error_status import grpc_code, http_status


def _kinds() -> list[type[errors.ServiceError]]:
    return errors.ServiceError.__subclasses__()


def test_every_kind_of_service_error_has_a_status_of_its_own_on_both_transports():
    kinds = _kinds()
    assert kinds, "the domain defines no kind of service error"
    codes = {kind: grpc_code(kind("x")) for kind in kinds}
    statuses = {kind: http_status(kind("x")) for kind in kinds}
    assert grpc.StatusCode.INTERNAL not in codes.values(), codes
    assert 500 not in statuses.values(), statuses
    assert len(set(codes.values())) == len(kinds)
    assert len(set(statuses.values())) == len(kinds)


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT, 400),
        (errors.NotFound, grpc.StatusCode.NOT_FOUND, 404),
        (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION, 409),
        (errors.Unavailable, grpc.StatusCode.UNAVAILABLE, 503),
        (errors.ServiceError, grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_each_kind_maps_to_the_status_its_callers_know(kind, code, status):
    assert (grpc_code(kind("x")), http_status(kind("x"))) == (code, status)


def test_a_subclass_of_a_kind_takes_that_kind_s_statuses():
    class Gone(errors.NotFound):
        pass

    assert (grpc_code(Gone("x")), http_status(Gone("x"))) == (grpc.StatusCode.NOT_FOUND, 404)
