/*
 * The D-Bus error domain (see msb-dbus-error.h). One table: the quark's registration, the
 * broker's replies and msbctl's reading of them all come from it.
 */
#include "msb-dbus-error.h"

static const GDBusErrorEntry msb_dbus_error_entries[] = {
        {MSB_DBUS_ERROR_TOPIC_NOT_FOUND, "org.myservicebus.Broker1.Error.TopicNotFound"},
        {MSB_DBUS_ERROR_QUEUE_NOT_FOUND, "org.myservicebus.Broker1.Error.QueueNotFound"},
        {MSB_DBUS_ERROR_SESSION_NOT_FOUND, "org.myservicebus.Broker1.Error.SessionNotFound"},
        {MSB_DBUS_ERROR_INVALID_NAME, "org.myservicebus.Broker1.Error.InvalidName"},
        {MSB_DBUS_ERROR_INVALID_ARGUMENT, "org.myservicebus.Broker1.Error.InvalidArgument"},
        {MSB_DBUS_ERROR_TOPIC_DELETED, "org.myservicebus.Broker1.Error.TopicDeleted"},
        {MSB_DBUS_ERROR_BUSY, "org.myservicebus.Broker1.Error.Busy"},
        {MSB_DBUS_ERROR_NOT_SUPPORTED, "org.myservicebus.Broker1.Error.NotSupported"},
        {MSB_DBUS_ERROR_SHUTTING_DOWN, "org.myservicebus.Broker1.Error.ShuttingDown"},
        {MSB_DBUS_ERROR_NOT_AUTHORIZED, "org.myservicebus.Broker1.Error.NotAuthorized"},
        {MSB_DBUS_ERROR_FAILED, "org.myservicebus.Broker1.Error.Failed"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(msb_dbus_error_entries) == MSB_DBUS_ERROR_LAST + 1);

GQuark
msb_dbus_error_quark(void)
{
	static gsize quark = 0;

	g_dbus_error_register_error_domain("msb-dbus-error-quark", &quark, msb_dbus_error_entries,
	                                   G_N_ELEMENTS(msb_dbus_error_entries));
	return (GQuark)quark;
}

const gchar *
msb_dbus_error_to_name(MsbDbusError code)
{
	g_return_val_if_fail(code <= MSB_DBUS_ERROR_LAST, NULL);
	return msb_dbus_error_entries[code].dbus_error_name;
}
