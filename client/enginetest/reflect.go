package enginetest

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/e6coord/e6coord/client/e6xpb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

func protoMessage(v any) proto.Message {
	m, _ := v.(proto.Message)
	return m
}

// stringField returns the string field of the given name of a message, or
// "" if v is not a message or has no such field.
func stringField(v any, name protoreflect.Name) string {
	m := protoMessage(v)
	if m == nil {
		return ""
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return ""
	}
	return r.Get(fd).String()
}

// setStringField sets the string field of the given name of a message and
// reports whether it has one.
func setStringField(v any, name protoreflect.Name, value string) bool {
	m := protoMessage(v)
	if m == nil {
		return false
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return false
	}
	r.Set(fd, protoreflect.ValueOfString(value))
	return true
}

// requestTypes maps the full method names of both services to their
// request types.
var requestTypes = func() map[string]protoreflect.MessageType {
	m := make(map[string]protoreflect.MessageType)
	for _, fd := range []protoreflect.FileDescriptor{e6xpb.File_e6x_engine_proto, e6xpb.File_cluster_proto} {
		svcs := fd.Services()
		for i := range svcs.Len() {
			sd := svcs.Get(i)
			methods := sd.Methods()
			for j := range methods.Len() {
				md := methods.Get(j)
				mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
				if err == nil {
					m["/"+string(sd.FullName())+"/"+string(md.Name())] = mt
				}
			}
		}
	}
	return m
}()

// newRequest returns a new request message of a method, or nil for an
// unknown method.
func newRequest(method string) proto.Message {
	mt, ok := requestTypes[method]
	if !ok {
		return nil
	}
	return mt.New().Interface()
}

// maxRequest bounds the request read by the HTTP 456 path for its log.
const maxRequest = 1 << 20

// readRequest reads the first gRPC message of a request body into m. It
// does not handle compressed messages.
func readRequest(body io.Reader, m proto.Message) error {
	var hdr [5]byte
	if _, err := io.ReadFull(body, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if hdr[0] != 0 || n > maxRequest {
		return errors.New("compressed or oversized message")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(body, b); err != nil {
		return err
	}
	return proto.Unmarshal(b, m)
}
