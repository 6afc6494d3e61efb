"""Compare our inference protocol's messages and service with the ones tritonclient ships.

Run with the tool environment's python (make tritonclient):
    .venv-tritonclient/bin/python tests/inference_client/compare_descriptors.py OURS.pb

OURS.pb is our file's serialized FileDescriptorProto (grpc_predict_v2_pb2.DESCRIPTOR
.serialized_pb). Both sides are read as descriptor protos, so the two files, which both
define package `inference`, never meet in one descriptor pool. Triton's file is a superset
of the standard: every message, field, oneof and method of ours must be in it, the same.
Prints a JSON object: what was compared, and each difference as a sentence.
"""

import json
import pathlib
import sys

from google.protobuf import descriptor_pb2
from tritonclient.grpc import service_pb2

# What must agree for the wire and for JSON: oneof membership is compared by name.
FIELD_ATTRIBUTES = ("number", "label", "type", "type_name")


def main(ours_path: str) -> None:
    ours = descriptor_pb2.FileDescriptorProto.FromString(pathlib.Path(ours_path).read_bytes())
    theirs = descriptor_pb2.FileDescriptorProto.FromString(service_pb2.DESCRIPTOR.serialized_pb)
    differences: list[str] = []
    compared: list[str] = []
    if ours.package != theirs.package:
        differences.append(f"package {ours.package!r} is {theirs.package!r} in tritonclient")
    their_messages = {message.name: message for message in theirs.message_type}
    for message in ours.message_type:
        _compare_message(
            f"{ours.package}.{message.name}",
            message,
            their_messages.get(message.name),
            compared,
            differences,
        )
    their_services = {service.name: service for service in theirs.service}
    for service in ours.service:
        _compare_service(service, their_services.get(service.name), compared, differences)
    json.dump({"compared": compared, "differences": differences}, sys.stdout, indent=1)


def _compare_message(name, ours, theirs, compared, differences) -> None:
    compared.append(name)
    if theirs is None:
        differences.append(f"message {name} is missing in tritonclient")
        return
    if ours.options.map_entry != theirs.options.map_entry:
        differences.append(f"message {name}: map_entry differs")
    their_fields = {field.name: field for field in theirs.field}
    for field in ours.field:
        where = f"{name}.{field.name}"
        compared.append(where)
        match = their_fields.get(field.name)
        if match is None:
            differences.append(f"field {where} is missing in tritonclient")
            continue
        for attribute in FIELD_ATTRIBUTES:
            if getattr(field, attribute) != getattr(match, attribute):
                differences.append(
                    f"field {where}: {attribute} is {getattr(field, attribute)!r}, "
                    f"tritonclient's is {getattr(match, attribute)!r}"
                )
        if _oneof(ours, field) != _oneof(theirs, match):
            differences.append(
                f"field {where}: oneof is {_oneof(ours, field)!r}, "
                f"tritonclient's is {_oneof(theirs, match)!r}"
            )
    their_nested = {nested.name: nested for nested in theirs.nested_type}
    for nested in ours.nested_type:
        _compare_message(
            f"{name}.{nested.name}", nested, their_nested.get(nested.name), compared, differences
        )


def _oneof(message, field) -> str | None:
    return message.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None


def _compare_service(ours, theirs, compared, differences) -> None:
    compared.append(f"service {ours.name}")
    if theirs is None:
        differences.append(f"service {ours.name} is missing in tritonclient")
        return
    their_methods = {method.name: method for method in theirs.method}
    for method in ours.method:
        where = f"{ours.name}.{method.name}"
        compared.append(where)
        match = their_methods.get(method.name)
        if match is None:
            differences.append(f"method {where} is missing in tritonclient")
            continue
        for attribute in ("input_type", "output_type", "client_streaming", "server_streaming"):
            if getattr(method, attribute) != getattr(match, attribute):
                differences.append(
                    f"method {where}: {attribute} is {getattr(method, attribute)!r}, "
                    f"tritonclient's is {getattr(match, attribute)!r}"
                )


if __name__ == "__main__":
    main(sys.argv[1])
