#!/usr/bin/env python3
"""Exports the part of Temporal's API that membatch's worker speaks over gRPC.

    export_descriptors.py OUT.pb OUT.files METHOD...

Reads the real definitions that Temporal's Python SDK carries (its _pb2
modules keep the original FileDescriptorProtos, with the real file names,
packages and field numbers), keeps the named WorkflowService methods and
every type they reach, and writes:
  OUT.pb     a FileDescriptorSet for `protoc --descriptor_set_in`, with the
             google/protobuf files it needs (not to be generated: libprotobuf
             has them);
  OUT.files  the Temporal .proto names in it, one a line (what to generate).
Nothing is typed by hand: a method or type missing upstream is an error.
The full API would be about 27 MB of C++; these few types build in seconds.
"""

import sys

from google.protobuf import descriptor_pb2

SERVICE = "temporal.api.workflowservice.v1.WorkflowService"


def main(out_pb, out_files, methods):
    from temporalio.api.workflowservice.v1 import service_pb2  # noqa: the SDK's copy of the API

    service = service_pb2.DESCRIPTOR.services_by_name[SERVICE.rsplit(".", 1)[1]]
    missing = [m for m in methods if m not in service.methods_by_name]
    if missing:
        sys.exit(f"export_descriptors: {SERVICE} has no method {', '.join(missing)}")

    # Every top-level message or enum reached from the methods' types.
    kept = {}  # top-level full name -> descriptor
    files = {}  # file name -> file descriptor

    def top_level(desc):
        while desc.containing_type is not None:
            desc = desc.containing_type
        return desc

    def keep_enum(enum):
        top = top_level(enum)
        if top.full_name not in kept:
            kept[top.full_name] = top
            files[top.file.name] = top.file
            if hasattr(top, "fields"):
                visit_message(top)

    def visit_message(msg):
        for field in msg.fields:
            if field.message_type is not None:
                keep_message(field.message_type)
            if field.enum_type is not None:
                keep_enum(field.enum_type)
        for nested in msg.nested_types:
            visit_message(nested)

    def keep_message(msg):
        top = top_level(msg)
        if top.full_name in kept:
            return
        kept[top.full_name] = top
        files[top.file.name] = top.file
        visit_message(top)

    for name in methods:
        keep_message(service.methods_by_name[name].input_type)
        keep_message(service.methods_by_name[name].output_type)
    files[service.file.name] = service.file

    # Files in dependency order, each cut down to what is kept.
    out = descriptor_pb2.FileDescriptorSet()
    generate = []
    done = set()

    def emit(fd):
        if fd.name in done:
            return
        done.add(fd.name)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        if fd.name.startswith("google/protobuf/"):
            out.file.append(proto)  # libprotobuf's own: whole, not generated
            return
        package = proto.package + "."
        messages = [m for m in proto.message_type if package + m.name in kept]
        enums = [e for e in proto.enum_type if package + e.name in kept]
        del proto.message_type[:]
        proto.message_type.extend(messages)
        del proto.enum_type[:]
        proto.enum_type.extend(enums)
        del proto.extension[:]
        services = []
        for s in proto.service:
            if proto.package + "." + s.name == SERVICE:
                kept_methods = [m for m in s.method if m.name in methods]
                for m in kept_methods:
                    m.ClearField("options")  # google.api.http: the HTTP API is not ours to generate
                del s.method[:]
                s.method.extend(kept_methods)
                services.append(s)
        del proto.service[:]
        proto.service.extend(services)
        # Only the imports that the kept types use.
        needed = set()
        for desc in kept.values():
            if desc.file.name == fd.name:
                collect_files(desc, needed)
        if services:
            for name in methods:
                needed.add(service.methods_by_name[name].input_type.file.name)
                needed.add(service.methods_by_name[name].output_type.file.name)
        needed.discard(fd.name)
        deps = [d for d in fd.dependencies if d.name in needed]
        for dep in deps:
            emit(dep)
        del proto.dependency[:]
        proto.dependency.extend(d.name for d in deps)
        del proto.public_dependency[:]
        del proto.weak_dependency[:]
        out.file.append(proto)
        generate.append(proto.name)

    def collect_files(msg, needed):
        for field in getattr(msg, "fields", []):
            for t in (field.message_type, field.enum_type):
                if t is not None:
                    needed.add(t.file.name)
        for nested in getattr(msg, "nested_types", []):
            collect_files(nested, needed)

    for name in sorted(files):
        emit(files[name])

    with open(out_pb, "wb") as f:
        f.write(out.SerializeToString())
    with open(out_files, "w") as f:
        f.write("".join(name + "\n" for name in generate))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
