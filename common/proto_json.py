"""The one mapping between the algorithm.v1 messages and the JSON bodies of REST and the shim.

The algorithm service builds its answers with ``from_json`` and web and the shim write
them out with ``as_json``, so a field added to a .proto file reaches every interface with
no other edit. The JSON shape is proto3's JSON mapping with the conventions this API had
before it had protos, which its clients know:

- fields keep their proto names, unless the .proto gives a ``json_name`` of its own;
- a field with presence (a message, or a scalar marked ``optional``) that is unset is
  ``null``, and so is an enum at its zero value (``JOB_STAGE_UNSPECIFIED``);
- other enum values are lower-case words without the enum's prefix: ``JOB_STATE_QUEUED``
  is ``"queued"``;
- 64-bit integers are numbers, not strings; in a Struct, whole numbers are integers, since
  a Struct holds every number as a double;
- timestamps are ISO 8601 in UTC with a ``+00:00`` offset;
- a message whose only field is a repeated one is that list (a confusion matrix row is its
  list of counts).
"""

import datetime
import functools
import operator
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_STRUCT_TYPES = {
    struct_pb2.Struct.DESCRIPTOR.full_name,
    struct_pb2.Value.DESCRIPTOR.full_name,
    struct_pb2.ListValue.DESCRIPTOR.full_name,
}
_TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name


def as_json(message: Message) -> dict[str, Any]:
    """The message as a JSON object, by the rules above."""
    return {name: write(message) for name, write in _writers(message.DESCRIPTOR)}


def from_json(message_class: type[M], values: Mapping[str, object]) -> M:
    """A message from a JSON object of the same shape. Keys the message has no field for
    are left out (model manifests written by older versions may hold more); ``datetime``
    and ``UUID`` values are accepted where timestamps and strings go."""
    # The stubs type DESCRIPTOR as the Python or the upb implementation's: the same API.
    descriptor = cast(Descriptor, message_class.DESCRIPTOR)
    return json_format.ParseDict(
        _prepared(descriptor, values), message_class(), ignore_unknown_fields=True
    )


def json_name(field: FieldDescriptor) -> str:
    """The field's name in JSON: its proto name, or the json_name its .proto sets."""
    default = re.sub(r"_([a-z0-9])", lambda match: match.group(1).upper(), field.name)
    return field.json_name if field.json_name != default else field.name


@functools.cache
def _writers(descriptor: Descriptor) -> tuple[tuple[str, Callable[[Message], Any]], ...]:
    # Worked out once per message type: predictions go through here on the hot path.
    return tuple((json_name(field), _field_writer(field)) for field in descriptor.fields)


def _field_writer(field: FieldDescriptor) -> Callable[[Message], Any]:
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        write_value = _value_writer(field.message_type.fields_by_name["value"])
        if write_value is None:  # scalar values (prediction scores): copied as they are
            return lambda message: dict(getattr(message, name))
        return lambda message: {
            key: write_value(item) for key, item in getattr(message, name).items()
        }
    write = _value_writer(field)
    if field.is_repeated:
        if write is None:
            return lambda message: list(getattr(message, name))
        return lambda message: [write(item) for item in getattr(message, name)]
    read = operator.attrgetter(name)
    if field.has_presence:
        present = write or (lambda value: value)
        return lambda message: present(read(message)) if message.HasField(name) else None
    if write is None:
        return read
    return lambda message: write(read(message))


def _value_writer(field: FieldDescriptor) -> Callable[[Any], Any] | None:
    """How one value of the field is written; None when it is written as it is."""
    if field.enum_type is not None:
        prefix = _enum_prefix(field.enum_type)
        words = {
            value.number: value.name.removeprefix(prefix).lower() if value.number else None
            for value in field.enum_type.values
        }
        return lambda number: words.get(number, number)
    if field.message_type is None:
        return None
    full_name = field.message_type.full_name
    if full_name == _TIMESTAMP:
        return lambda value: value.ToDatetime(tzinfo=datetime.UTC).isoformat()
    if full_name in _STRUCT_TYPES:
        return lambda value: _whole_numbers(json_format.MessageToDict(value))
    if (only := _only_repeated_field(field.message_type)) is not None:
        return _field_writer(only)
    return as_json


def _prepared(descriptor: Descriptor, values: Mapping[str, object]) -> dict[str, object]:
    """values in the form json_format.ParseDict reads."""
    prepared = {}
    for field in descriptor.fields:
        name = json_name(field)
        # Any: whatever JSON holds, walked by the field's type below.
        value: Any = values.get(name, values.get(field.name))
        if value is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            value = {key: _prepared_value(item, value_field) for key, item in value.items()}
        elif field.is_repeated:
            value = [_prepared_value(item, field) for item in value]
        else:
            value = _prepared_value(value, field)
        prepared[field.name] = value
    return prepared


def _prepared_value(value: Any, field: FieldDescriptor) -> Any:
    if field.enum_type is not None:
        return _enum_prefix(field.enum_type) + value.upper() if isinstance(value, str) else value
    if isinstance(value, uuid.UUID):
        return str(value)
    if field.message_type is None:
        return value
    full_name = field.message_type.full_name
    if full_name == _TIMESTAMP and isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if full_name == _TIMESTAMP or full_name in _STRUCT_TYPES:
        return value
    if (only := _only_repeated_field(field.message_type)) is not None and isinstance(value, list):
        return {only.name: value}
    return _prepared(field.message_type, value)


def _enum_prefix(enum: EnumDescriptor) -> str:
    """JobState → "JOB_STATE_", the prefix every value name of the enum starts with."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def _only_repeated_field(descriptor: Descriptor) -> FieldDescriptor | None:
    fields = descriptor.fields
    if len(fields) == 1 and fields[0].is_repeated:
        return fields[0]
    return None


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value
