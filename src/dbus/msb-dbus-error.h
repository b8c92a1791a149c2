/*
 * MSB_DBUS_ERROR: the errors of the D-Bus management interface, registered with GDBus so that a
 * GError of this domain travels as org.myservicebus.Broker1.Error.<Name> and a client that links
 * this library (msbctl) gets the same GError back. The names are those listed in
 * data/org.myservicebus.Broker1.xml.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MSB_DBUS_ERROR (msb_dbus_error_quark())
GQuark
msb_dbus_error_quark(void);

typedef enum {
	MSB_DBUS_ERROR_TOPIC_NOT_FOUND,   /* TopicNotFound */
	MSB_DBUS_ERROR_QUEUE_NOT_FOUND,   /* QueueNotFound */
	MSB_DBUS_ERROR_SESSION_NOT_FOUND, /* SessionNotFound */
	MSB_DBUS_ERROR_INVALID_NAME,      /* InvalidName */
	MSB_DBUS_ERROR_INVALID_ARGUMENT,  /* InvalidArgument */
	MSB_DBUS_ERROR_TOPIC_DELETED,     /* TopicDeleted */
	MSB_DBUS_ERROR_BUSY,              /* Busy */
	MSB_DBUS_ERROR_NOT_SUPPORTED,     /* NotSupported */
	MSB_DBUS_ERROR_SHUTTING_DOWN,     /* ShuttingDown */
	MSB_DBUS_ERROR_NOT_AUTHORIZED,    /* NotAuthorized */
	MSB_DBUS_ERROR_FAILED,            /* Failed */
} MsbDbusError;

#define MSB_DBUS_ERROR_LAST MSB_DBUS_ERROR_FAILED

/* The D-Bus name of @code ("org.myservicebus.Broker1.Error.TopicNotFound"). */
const gchar *
msb_dbus_error_to_name(MsbDbusError code);

G_END_DECLS
