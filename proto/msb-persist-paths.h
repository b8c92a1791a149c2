/*
 * The gRPC method paths of the G3 persistence services (../shared/spec/persistence.md §1 and
 * Appendix A.1), for grpc_channel_register_call() and grpc_server_register_method().
 *
 * gRPC C core takes paths as strings, and the generated ProtobufCService descriptors cannot
 * register anything (protobuf-c has no notion of streaming), so both sides use these. They are
 * "/" + package + "." + service + "/" + method of the .proto files in this folder, and a unit test
 * checks them against the generated descriptors.
 */
#pragma once

#define MSB_PERSIST_QUEUE_SERVICE    "persistence.MyServiceBusQueuePersistenceGrpcService"
#define MSB_PERSIST_MESSAGES_SERVICE "persistence.MyServiceBusMessagesPersistenceGrpcService"

/* MyServiceBusQueuePersistenceGrpcService: GetSnapshot streams from the server, SaveSnapshot is
 * unary */
#define MSB_PERSIST_PATH_GET_SNAPSHOT  "/" MSB_PERSIST_QUEUE_SERVICE "/GetSnapshot"
#define MSB_PERSIST_PATH_SAVE_SNAPSHOT "/" MSB_PERSIST_QUEUE_SERVICE "/SaveSnapshot"

/* MyServiceBusMessagesPersistenceGrpcService, unary */
#define MSB_PERSIST_PATH_GET_VERSION   "/" MSB_PERSIST_MESSAGES_SERVICE "/GetVersion"
#define MSB_PERSIST_PATH_GET_MESSAGE   "/" MSB_PERSIST_MESSAGES_SERVICE "/GetMessage"
#define MSB_PERSIST_PATH_DELETE_TOPIC  "/" MSB_PERSIST_MESSAGES_SERVICE "/DeleteTopic"
#define MSB_PERSIST_PATH_RESTORE_TOPIC "/" MSB_PERSIST_MESSAGES_SERVICE "/RestoreTopic"
#define MSB_PERSIST_PATH_PING          "/" MSB_PERSIST_MESSAGES_SERVICE "/Ping"

/* MyServiceBusMessagesPersistenceGrpcService, server-streaming */
#define MSB_PERSIST_PATH_GET_PAGE_COMPRESSED "/" MSB_PERSIST_MESSAGES_SERVICE "/GetPageCompressed"
#define MSB_PERSIST_PATH_GET_PAGE            "/" MSB_PERSIST_MESSAGES_SERVICE "/GetPage"
#define MSB_PERSIST_PATH_GET_SUB_PAGE        "/" MSB_PERSIST_MESSAGES_SERVICE "/GetSubPage"

/* MyServiceBusMessagesPersistenceGrpcService, client-streaming */
#define MSB_PERSIST_PATH_SAVE_MESSAGES "/" MSB_PERSIST_MESSAGES_SERVICE "/SaveMessages"
#define MSB_PERSIST_PATH_SAVE_MESSAGES_UNCOMPRESSED \
	"/" MSB_PERSIST_MESSAGES_SERVICE "/SaveMessagesUncompressed"
