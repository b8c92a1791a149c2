/*
 * MsbPersistence: restore, saves, snapshots, loads and the drain, on the main loop.
 *
 * Every asynchronous call holds a reference on this object and checks `disposed` when it
 * completes, so that a call finishing after shutdown began never touches the broker. Failures
 * are retried with a short back-off; nothing is dropped: a message stays pending in the broker
 * until a save of it is acknowledged.
 */
#define G_LOG_DOMAIN "msb-link"

#include "msb-persistence.h"

#include "msb-broker-admin.h"
#include "msb-log.h"
#include "msb-persistence-client.h"
#include "msb-sd-notify.h"

/* how often restore is tried while the service is not there (node.md §4.1) */
#define MSB_PERSISTENCE_RESTORE_RETRY_S 5
/* under systemd, each step of a restore gives the start this much more time (a restore of many
 * topics may outlast TimeoutStartSec=; one that stops making progress does not) */
#define MSB_PERSISTENCE_RESTORE_EXTEND_US (60 * G_USEC_PER_SEC)
/* saves in flight at once, of one topic or several */
#define MSB_PERSISTENCE_MAX_SAVES 4
/* one save call: at most this many content bytes / messages */
#define MSB_PERSISTENCE_SAVE_BYTES    (4 * 1024 * 1024)
#define MSB_PERSISTENCE_SAVE_MESSAGES 50000
/* back-off after a failed save or load */
#define MSB_PERSISTENCE_RETRY_MIN_MS 200
#define MSB_PERSISTENCE_RETRY_MAX_MS 5000
/* OnDamagedMessages: wait: a damaged sub-page is asked for again after 1 s, doubling to 60 s */
#define MSB_PERSISTENCE_DAMAGED_RETRY_MIN_MS 1000
#define MSB_PERSISTENCE_DAMAGED_RETRY_MAX_MS 60000

typedef struct _MsbRestore MsbRestore;

static void
msb_restore_unref(MsbRestore *restore);
static void
msb_restore_cancel(MsbRestore *restore);

struct _MsbPersistence {
	gint ref_count;
	gboolean disposed;
	MsbPersistenceClient *client;
	GCancellable *cancellable;
	MsbBroker *broker;
	gint64 delay_us;
	gboolean compressed;
	guint ops; /* asynchronous calls in flight */

	/* restore */
	gboolean restored;
	GSourceFunc ready;
	gpointer ready_data;
	MsbRestore *restore; /* the attempt whose probes run, NULL otherwise */
	guint restore_retry_id;
	guint restore_attempts;
	guint restore_watch_id;    /* reports a restore call that waits for the service */
	gint64 restore_started_us; /* of the current attempt */

	/* saves */
	guint saves_in_flight;
	guint save_idle_id;
	guint save_retry_id;
	guint retry_ms;

	/* snapshots */
	guint tick_id;
	gboolean snapshot_in_flight;
	guint64 snapshot_generation; /* of the last snapshot saved */
	gboolean snapshot_ever;
	gboolean snapshot_again; /* wanted while one was in flight */
	guint snapshot_idle_id;
	gboolean final_saved; /* the drain's snapshot, which reserves no ids */

	/* drain */
	gboolean draining;
	gint64 drain_deadline;
	GSourceFunc drain_done;
	gpointer drain_data;
	guint drain_id;

	/* status */
	gboolean up;
	gboolean lost_connection; /* down because the channel went, not because a call failed */
	gboolean ping_in_flight;
	gchar *version;
	gchar *last_error;
	gboolean warned_late;
	guint64 saves;
	guint64 save_failures;
	guint64 loads;
	guint64 load_failures;
	guint64 snapshots;
	guint64 snapshot_failures;
	MsbHistogram save_latency; /* acknowledged saves, from the call to the answer */
	gboolean plain_loads;      /* the service has no GetPageCompressed: load with GetPage */
	MsbOnDamaged on_damaged;
	guint damaged_retry_ms; /* OnDamagedMessages: wait */
	guint64 damaged_loads;  /* loads answered DATA_LOSS */
};

static void
msb_persistence_connected_cb(GObject *object, GParamSpec *pspec, gpointer user_data);

static MsbPersistence *
msb_persistence_ref(MsbPersistence *self)
{
	self->ref_count++;
	self->ops++;
	return self;
}

static void
msb_persistence_unref(MsbPersistence *self)
{
	self->ops--;
	if (--self->ref_count > 0)
		return;
	g_signal_handlers_disconnect_by_data(self->client, self);
	g_clear_object(&self->client);
	g_clear_object(&self->cancellable);
	g_clear_pointer(&self->restore, msb_restore_unref);
	g_free(self->version);
	g_free(self->last_error);
	g_free(self);
}

void
msb_persistence_set_options(MsbPersistence *self, gint64 eventually_persistence_delay_us,
                            gboolean compressed)
{
	g_return_if_fail(self != NULL);
	self->delay_us = eventually_persistence_delay_us;
	self->compressed = compressed;
}

MsbPersistence *
msb_persistence_new(const gchar *url, gint64 eventually_persistence_delay_us, gboolean compressed,
                    GError **error)
{
	MsbPersistence *self;
	MsbPersistenceClient *client;

	g_return_val_if_fail(url != NULL, NULL);
	client = msb_persistence_client_new(url, error);
	if (client == NULL)
		return NULL;
	self = g_new0(MsbPersistence, 1);
	self->ref_count = 1;
	self->client = client;
	self->cancellable = g_cancellable_new();
	self->delay_us = eventually_persistence_delay_us;
	self->compressed = compressed;
	self->retry_ms = MSB_PERSISTENCE_RETRY_MIN_MS;
	self->damaged_retry_ms = MSB_PERSISTENCE_DAMAGED_RETRY_MIN_MS;
	g_signal_connect(client, "notify::connected", G_CALLBACK(msb_persistence_connected_cb),
	                 self);
	return self;
}

void
msb_persistence_set_on_damaged(MsbPersistence *self, MsbOnDamaged on_damaged)
{
	g_return_if_fail(self != NULL);
	self->on_damaged = on_damaged;
}

static gboolean
msb_persistence_wake_cb(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

void
msb_persistence_free(MsbPersistence *self)
{
	gint64 deadline;

	if (self == NULL)
		return;
	self->disposed = TRUE;
	self->broker = NULL;
	g_clear_handle_id(&self->restore_retry_id, g_source_remove);
	g_clear_handle_id(&self->restore_watch_id, g_source_remove);
	g_clear_handle_id(&self->save_idle_id, g_source_remove);
	g_clear_handle_id(&self->save_retry_id, g_source_remove);
	g_clear_handle_id(&self->snapshot_idle_id, g_source_remove);
	g_clear_handle_id(&self->tick_id, g_source_remove);
	g_clear_handle_id(&self->drain_id, g_source_remove);
	g_cancellable_cancel(self->cancellable);
	if (self->restore != NULL)
		msb_restore_cancel(self->restore);
	/* let the cancelled calls report back, so that nothing they own is leaked at exit */
	deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	if (self->ops > 0) {
		guint wake_id = g_timeout_add(20, msb_persistence_wake_cb, NULL);
		while (self->ops > 0 && g_get_monotonic_time() < deadline)
			g_main_context_iteration(NULL, TRUE);
		g_source_remove(wake_id);
	}
	self->ops++; /* the owner's reference is not an operation */
	msb_persistence_unref(self);
}

static void
msb_persistence_set_up(MsbPersistence *self, gboolean up, const GError *error)
{
	if (up && !self->up)
		g_message("persistence at %s is available",
		          msb_persistence_client_get_target(self->client));
	else if (!up && self->up)
		g_warning("persistence at %s failed: %s; retrying, messages are kept in memory",
		          msb_persistence_client_get_target(self->client),
		          error != NULL ? error->message : "unknown error");
	self->up = up;
	if (up)
		self->lost_connection = FALSE;
	if (error != NULL) {
		g_free(self->last_error);
		self->last_error = g_strdup(error->message);
	}
}

static void
msb_persistence_pinged_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistence *self = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok =
	        msb_persistence_client_ping_finish(MSB_PERSISTENCE_CLIENT(source), result, &error);

	self->ping_in_flight = FALSE;
	if (!self->disposed && ok)
		msb_persistence_set_up(self, TRUE, NULL);
	msb_persistence_unref(self);
}

/* Down for a lost connection and connected again: ask whether it answers (it may still be
 * recovering). Not after a failed call: the retries of that call tell. */
static void
msb_persistence_ping_if_down(MsbPersistence *self)
{
	if (self->up || !self->lost_connection || self->ping_in_flight || self->disposed ||
	    !msb_persistence_client_get_connected(self->client))
		return;
	self->ping_in_flight = TRUE;
	msb_persistence_client_ping_async(self->client, self->cancellable,
	                                  msb_persistence_pinged_cb, msb_persistence_ref(self));
}

/*
 * The channel's state, from the client's watcher. A call waits for a connection until its
 * deadline (a minute for saves), so without this a service that dies between calls would look
 * up until then; and one that comes back while nothing needs saving would look down for good.
 */
static void
msb_persistence_connected_cb(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	MsbPersistence *self = user_data;
	g_autoptr(GError) error = NULL;

	if (self->disposed)
		return;
	if (msb_persistence_client_get_connected(self->client)) {
		/* connected is not answering: ask (and the tick asks again while it does not) */
		msb_persistence_ping_if_down(self);
		return;
	}
	g_set_error(&error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_UNAVAILABLE,
	            "lost the connection to the service");
	msb_persistence_set_up(self, FALSE, error);
	self->lost_connection = TRUE;
}

/* ---- conversions ---- */

/* Header strings for the protobuf side, freed with the array. */
static void
msb_persistence_convert_pending(const MsbSaveBatch *batch, GArray *out, GPtrArray *strings,
                                GArray *headers)
{
	/* headers first, so that the pointers into @headers stay put */
	g_array_set_size(headers, 0);
	for (guint i = 0; i < batch->messages->len; i++) {
		const MsbPendingMessage *pm = &g_array_index(batch->messages, MsbPendingMessage, i);
		gsize pos = 0;
		MsbWireStr key;
		MsbWireStr value;

		while (pm->headers != NULL &&
		       msb_wire_headers_next(pm->headers, pm->headers_len, &pos, &key, &value)) {
			MsbPersistHeader h;
			h.key = g_strndup(key.str, key.len);
			h.value = g_strndup(value.str, value.len);
			g_ptr_array_add(strings, (gpointer)h.key);
			g_ptr_array_add(strings, (gpointer)h.value);
			g_array_append_val(headers, h);
		}
	}
	g_array_set_size(out, batch->messages->len);
	for (guint i = 0, h = 0; i < batch->messages->len; i++) {
		const MsbPendingMessage *pm = &g_array_index(batch->messages, MsbPendingMessage, i);
		MsbPersistMessage *m = &g_array_index(out, MsbPersistMessage, i);
		guint n_headers = pm->headers != NULL && pm->headers_len > 0 ? pm->headers[0] : 0;

		m->id = pm->id;
		m->created_us = pm->created_us;
		m->content = pm->content;
		m->content_len = pm->content_len;
		m->headers = n_headers > 0 ? &g_array_index(headers, MsbPersistHeader, h) : NULL;
		m->n_headers = n_headers;
		h += n_headers;
	}
}

/* ---- saves ---- */

typedef struct {
	MsbPersistence *self;
	MsbSaveBatch batch;
	gint64 started_us; /* monotonic, for the save latency */
} MsbPersistenceSave;

static void
msb_persistence_kick(MsbPersistence *self);

static gboolean
msb_persistence_retry_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;

	self->save_retry_id = 0;
	msb_persistence_kick(self);
	return G_SOURCE_REMOVE;
}

static void
msb_persistence_saved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistenceSave *save = user_data;
	MsbPersistence *self = save->self;
	g_autoptr(GError) error = NULL;
	gboolean ok = msb_persistence_client_save_messages_finish(MSB_PERSISTENCE_CLIENT(source),
	                                                          result, &error);

	self->saves_in_flight--;
	if (!self->disposed) {
		if (ok) {
			self->saves++;
			msb_histogram_observe(&self->save_latency,
			                      g_get_monotonic_time() - save->started_us);
			self->retry_ms = MSB_PERSISTENCE_RETRY_MIN_MS;
			msb_persistence_set_up(self, TRUE, NULL);
			msb_broker_save_done(self->broker, &save->batch);
			msb_persistence_kick(self);
		} else {
			self->save_failures++;
			msb_persistence_set_up(self, FALSE, error);
			msb_debug_fields(MSB_LOG_TOPIC(msb_topic_get_name(save->batch.topic)),
			                 "save of %s %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
			                 " failed: %s",
			                 msb_topic_get_name(save->batch.topic), save->batch.from_id,
			                 save->batch.to_id, error->message);
			msb_broker_save_failed(self->broker, &save->batch);
			if (self->save_retry_id == 0) {
				self->save_retry_id = g_timeout_add(self->retry_ms,
				                                    msb_persistence_retry_cb, self);
				self->retry_ms =
				        MIN(self->retry_ms * 2, MSB_PERSISTENCE_RETRY_MAX_MS);
			}
		}
	}
	msb_save_batch_clear(&save->batch);
	g_free(save);
	msb_persistence_unref(self);
}

static void
msb_persistence_kick(MsbPersistence *self)
{
	g_autoptr(GArray) msgs = g_array_new(FALSE, FALSE, sizeof(MsbPersistMessage));
	g_autoptr(GArray) headers = g_array_new(FALSE, FALSE, sizeof(MsbPersistHeader));
	g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);

	if (self->disposed || self->broker == NULL || !self->restored || self->save_retry_id != 0)
		return;
	while (self->saves_in_flight < MSB_PERSISTENCE_MAX_SAVES) {
		MsbPersistenceSave *save = g_new0(MsbPersistenceSave, 1);

		msb_save_batch_init(&save->batch);
		if (!msb_broker_take_save_batch(self->broker, MSB_PERSISTENCE_SAVE_BYTES,
		                                MSB_PERSISTENCE_SAVE_MESSAGES, &save->batch)) {
			msb_save_batch_clear(&save->batch);
			g_free(save);
			break;
		}
		g_ptr_array_set_size(strings, 0);
		msb_persistence_convert_pending(&save->batch, msgs, strings, headers);
		save->self = msb_persistence_ref(self);
		save->started_us = g_get_monotonic_time();
		self->saves_in_flight++;
		/* the client encodes the messages before it returns: our views may go after */
		msb_persistence_client_save_messages_async(
		        self->client, msb_topic_get_name(save->batch.topic),
		        (const MsbPersistMessage *)msgs->data, msgs->len, self->compressed,
		        self->cancellable, msb_persistence_saved_cb, save);
	}
}

static gboolean
msb_persistence_save_idle_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;

	self->save_idle_id = 0;
	msb_persistence_kick(self);
	return G_SOURCE_REMOVE;
}

void
msb_persistence_save_wanted(MsbPersistence *self)
{
	g_return_if_fail(self != NULL);
	/* coalesce: one kick after the current read has been handled saves all of it */
	if (self->save_idle_id == 0 && !self->disposed)
		self->save_idle_id = g_idle_add(msb_persistence_save_idle_cb, self);
}

/* ---- loads ---- */

/*
 * A sub-page is loaded with GetPageCompressed (Version 0: one ZIP entry holding the list), which
 * brings its 1,000 messages in one or a few stream messages: GetPage streams one gRPC message per
 * message, and at a message per 20-40 µs of thread hand-offs in the gRPC core on each side that,
 * not the disk, bounded how fast a backlog could be read (bench/RESULTS.md). The reply holds the
 * same messages; ids outside the sub-page (a service that answers a from-id of 0 with the whole
 * page, persistence.md Q6) are ignored by msb_broker_sub_page_loaded(). When the compressed call
 * fails for any reason but the service being unreachable (a sub-page too large for one archive,
 * a service without the method), the same sub-page is asked for again with GetPage at once; a
 * service that does not implement GetPageCompressed gets GetPage from then on.
 */
typedef struct {
	MsbPersistence *self;
	MsbTopic *topic; /* valid while the load is out (the broker removes no topic then) */
	gchar *name;
	gint64 no;
	gboolean compressed; /* GetPageCompressed, else GetPage */
} MsbPersistenceLoad;

static void
msb_persistence_load_start(MsbPersistenceLoad *load);

/* Would GetPage fare better than the GetPageCompressed call that failed with @error? */
static gboolean
msb_persistence_load_try_plain(const GError *error)
{
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return FALSE;
	return !g_error_matches(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_UNAVAILABLE) &&
	       !g_error_matches(error, MSB_PERSISTENCE_ERROR,
	                        MSB_PERSISTENCE_ERROR_DEADLINE_EXCEEDED) &&
	       !g_error_matches(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_CANCELLED);
}

static gboolean
msb_persistence_load_retry_cb(gpointer user_data)
{
	MsbPersistenceLoad *load = user_data;

	/* by name: the topic may have been deleted while the retry waited (its load had
	 * settled, so nothing held it) */
	if (!load->self->disposed) {
		MsbTopic *topic = msb_broker_find_topic(load->self->broker, load->name);
		if (topic != NULL)
			msb_broker_wake_topic(load->self->broker, topic);
	}
	msb_persistence_unref(load->self);
	g_free(load->name);
	g_free(load);
	return G_SOURCE_REMOVE;
}

static void
msb_persistence_loaded_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistenceLoad *load = user_data;
	MsbPersistence *self = load->self;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) batch =
	        load->compressed ? msb_persistence_client_get_page_compressed_finish(
	                                   MSB_PERSISTENCE_CLIENT(source), result, &error)
	                         : msb_persistence_client_get_page_finish(
	                                   MSB_PERSISTENCE_CLIENT(source), result, &error);

	if (self->disposed) {
		msb_persistence_unref(self);
		g_free(load->name);
		g_free(load);
		return;
	}
	if (batch == NULL && load->compressed && msb_persistence_load_try_plain(error)) {
		g_debug("loading %s sub-page %" G_GINT64_FORMAT
		        " with GetPageCompressed failed: %s; asking with GetPage",
		        msb_topic_get_name(load->topic), load->no, error->message);
		if (g_error_matches(error, MSB_PERSISTENCE_ERROR,
		                    MSB_PERSISTENCE_ERROR_UNIMPLEMENTED))
			self->plain_loads = TRUE;
		/* the reference and @load go to the new call */
		load->compressed = FALSE;
		msb_persistence_load_start(load);
		return;
	}
	if (batch == NULL &&
	    g_error_matches(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_DATA_LOSS)) {
		/* the service answers, but the stored bytes are damaged: asking again brings
		 * the same answer, so by default the ids are skipped; never for a transient
		 * failure (the service down or busy), which is retried below */
		self->damaged_loads++;
		msb_persistence_set_up(self, TRUE, NULL);
		if (self->on_damaged == MSB_ON_DAMAGED_SKIP) {
			msb_broker_sub_page_damaged(self->broker, load->topic, load->no,
			                            error->message);
			msb_persistence_unref(self);
			g_free(load->name);
			g_free(load);
			return;
		}
		self->load_failures++;
		msb_warning_fields(MSB_LOG_TOPIC(msb_topic_get_name(load->topic)),
		                   "loading %s sub-page %" G_GINT64_FORMAT
		                   " failed: %s; retrying in %u ms (OnDamagedMessages: wait)",
		                   msb_topic_get_name(load->topic), load->no, error->message,
		                   self->damaged_retry_ms);
		msb_broker_sub_page_load_failed(self->broker, load->topic, load->no);
		/* the reference and @load go to the retry */
		g_timeout_add(self->damaged_retry_ms, msb_persistence_load_retry_cb, load);
		self->damaged_retry_ms =
		        MIN(self->damaged_retry_ms * 2, MSB_PERSISTENCE_DAMAGED_RETRY_MAX_MS);
		return;
	}
	if (batch == NULL) {
		self->load_failures++;
		msb_persistence_set_up(self, FALSE, error);
		msb_warning_fields(MSB_LOG_TOPIC(msb_topic_get_name(load->topic)),
		                   "loading %s sub-page %" G_GINT64_FORMAT " failed: %s; retrying",
		                   msb_topic_get_name(load->topic), load->no, error->message);
		msb_broker_sub_page_load_failed(self->broker, load->topic, load->no);
		/* the reference and @load go to the retry */
		g_timeout_add(MSB_PERSISTENCE_RETRY_MAX_MS / 5, msb_persistence_load_retry_cb,
		              load);
		return;
	} else {
		g_autoptr(GArray) loaded = g_array_new(FALSE, FALSE, sizeof(MsbLoadedMessage));
		MsbBuf headers;
		g_autoptr(GArray) offsets = g_array_new(FALSE, FALSE, sizeof(gsize));

		msb_buf_init(&headers, 0);
		/* headers back into the wire form the broker stores; offsets, as the buffer grows
		 */
		for (gsize i = 0; i < batch->n_messages; i++) {
			const MsbPersistMessage *m = &batch->messages[i];
			g_autofree MsbWireHeader *wh = g_new0(MsbWireHeader, MAX(m->n_headers, 1));
			g_autoptr(GError) error_local = NULL;
			gsize at = headers.len;

			for (gsize h = 0; h < m->n_headers; h++) {
				wh[h].key = m->headers[h].key != NULL ? m->headers[h].key : "";
				wh[h].value =
				        m->headers[h].value != NULL ? m->headers[h].value : "";
			}
			if (m->n_headers > 0 &&
			    !msb_wire_put_headers(&headers, wh, m->n_headers, &error_local))
				msb_warning_fields(MSB_LOG_TOPIC(msb_topic_get_name(load->topic)),
				                   "%s message %" G_GINT64_FORMAT
				                   ": headers dropped, they cannot be sent: %s",
				                   msb_topic_get_name(load->topic), m->id,
				                   error_local->message);
			g_array_append_val(offsets, at);
		}
		for (gsize i = 0; i < batch->n_messages; i++) {
			const MsbPersistMessage *m = &batch->messages[i];
			MsbLoadedMessage lm;
			gsize at = g_array_index(offsets, gsize, i);
			gsize end = i + 1 < batch->n_messages ? g_array_index(offsets, gsize, i + 1)
			                                      : headers.len;
			lm.id = m->id;
			lm.created_us = m->created_us;
			lm.headers = end > at ? headers.data + at : NULL;
			lm.headers_len = end - at;
			lm.content = m->content;
			lm.content_len = m->content_len;
			g_array_append_val(loaded, lm);
		}
		self->loads++;
		self->damaged_retry_ms = MSB_PERSISTENCE_DAMAGED_RETRY_MIN_MS;
		msb_persistence_set_up(self, TRUE, NULL);
		msb_broker_sub_page_loaded(self->broker, load->topic, load->no,
		                           (const MsbLoadedMessage *)loaded->data, loaded->len);
		msb_buf_clear(&headers);
	}
	msb_persistence_unref(self);
	g_free(load->name);
	g_free(load);
}

void
msb_persistence_load_sub_page(MsbPersistence *self, MsbTopic *topic, gint64 sub_page_no)
{
	MsbPersistenceLoad *load;

	g_return_if_fail(self != NULL);
	if (self->disposed)
		return;
	load = g_new0(MsbPersistenceLoad, 1);
	load->self = msb_persistence_ref(self);
	load->topic = topic;
	load->name = g_strdup(msb_topic_get_name(topic));
	load->no = sub_page_no;
	load->compressed = !self->plain_loads;
	msb_persistence_load_start(load);
}

static void
msb_persistence_load_start(MsbPersistenceLoad *load)
{
	MsbPersistence *self = load->self;
	gint64 first = load->no * MSB_SUB_PAGE_SIZE;

	if (load->compressed)
		msb_persistence_client_get_page_compressed_async(
		        self->client, msb_topic_get_name(load->topic), msb_page_no(first), first,
		        first + MSB_SUB_PAGE_SIZE - 1, 0, self->cancellable,
		        msb_persistence_loaded_cb, load);
	else
		msb_persistence_client_get_page_async(
		        self->client, msb_topic_get_name(load->topic), msb_page_no(first), first,
		        first + MSB_SUB_PAGE_SIZE - 1, self->cancellable, msb_persistence_loaded_cb,
		        load);
}

/* ---- topic deletion ---- */

typedef struct {
	MsbPersistence *self;
	gchar *name;
} MsbPersistenceDelete;

static void
msb_persistence_deleted_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistenceDelete *del = user_data;
	MsbPersistence *self = del->self;
	g_autoptr(GError) error = NULL;
	gboolean ok = msb_persistence_client_delete_topic_finish(MSB_PERSISTENCE_CLIENT(source),
	                                                         result, &error);

	if (!self->disposed && self->broker != NULL) {
		if (ok)
			msb_persistence_set_up(self, TRUE, NULL);
		msb_broker_topic_delete_done(self->broker, del->name, ok ? NULL : error);
	}
	msb_persistence_unref(self);
	g_free(del->name);
	g_free(del);
}

void
msb_persistence_delete_topic(MsbPersistence *self, const gchar *topic, gint64 delete_after_us)
{
	MsbPersistenceDelete *del;

	g_return_if_fail(self != NULL);
	g_return_if_fail(topic != NULL);
	if (self->disposed)
		return;
	del = g_new0(MsbPersistenceDelete, 1);
	del->self = msb_persistence_ref(self);
	del->name = g_strdup(topic);
	msb_persistence_client_delete_topic_async(self->client, topic, delete_after_us,
	                                          self->cancellable, msb_persistence_deleted_cb,
	                                          del);
}

/* ---- snapshots ---- */

static MsbPersistQueueType
msb_persistence_queue_type(MsbQueueType type)
{
	/* G3 has no value for delete-on-disconnect + single connection: keep the auto-delete
	 * bit, which decides whether the queue survives; the next Subscribe sets the type */
	if (msb_queue_type_is_auto_delete(type))
		return MSB_PERSIST_QUEUE_AUTO_DELETE;
	if (msb_queue_type_is_single_connection(type))
		return MSB_PERSIST_QUEUE_PERMANENT_SINGLE_CONNECTION;
	return MSB_PERSIST_QUEUE_PERMANENT;
}

typedef struct {
	MsbPersistence *self;
	guint64 generation;
	gboolean final;
	GPtrArray *snaps; /* MsbTopicSnapshot*: the reservations it makes */
} MsbPersistenceSnapshot;

static void
msb_persistence_save_snapshot(MsbPersistence *self, gboolean final);

static void
msb_persistence_snapshot_saved_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistenceSnapshot *snap = user_data;
	MsbPersistence *self = snap->self;
	g_autoptr(GError) error = NULL;

	self->snapshot_in_flight = FALSE;
	if (msb_persistence_client_save_snapshot_finish(MSB_PERSISTENCE_CLIENT(source), result,
	                                                &error)) {
		self->snapshots++;
		self->snapshot_generation = snap->generation;
		self->snapshot_ever = TRUE;
		if (snap->final)
			self->final_saved = TRUE;
		if (!self->disposed) {
			msb_persistence_set_up(self, TRUE, NULL);
			/* the ids it reserved may be delivered and acknowledged now */
			msb_broker_snapshot_saved(self->broker, snap->snaps);
		}
	} else {
		self->snapshot_failures++;
		if (!self->disposed)
			msb_persistence_set_up(self, FALSE, error);
	}
	if (self->snapshot_again && !self->disposed && !self->draining) {
		self->snapshot_again = FALSE;
		msb_persistence_save_snapshot(self, FALSE);
	}
	g_ptr_array_unref(snap->snaps);
	msb_persistence_unref(self);
	g_free(snap);
}

static void
msb_persistence_save_snapshot(MsbPersistence *self, gboolean final)
{
	GPtrArray *snaps;
	g_autoptr(GPtrArray) records = NULL;
	MsbPersistenceSnapshot *snap;

	if (self->broker == NULL || self->disposed)
		return;
	if (self->snapshot_in_flight) {
		self->snapshot_again = TRUE;
		return;
	}
	snap = g_new0(MsbPersistenceSnapshot, 1);
	snap->generation = msb_broker_get_state_generation(self->broker);
	snap->final = final;
	snaps = snap->snaps = msb_broker_build_snapshot(self->broker, final);
	records = g_ptr_array_new_with_free_func((GDestroyNotify)msb_persist_topic_snapshot_free);
	for (guint t = 0; t < snaps->len; t++) {
		MsbTopicSnapshot *ts = g_ptr_array_index(snaps, t);
		MsbPersistTopicSnapshot *rec =
		        msb_persist_topic_snapshot_new(ts->name, ts->message_id, ts->persist);
		for (guint q = 0; q < ts->queues->len; q++) {
			MsbQueueSnapshot *qs = g_ptr_array_index(ts->queues, q);
			MsbPersistQueueSnapshot *qrec = msb_persist_topic_snapshot_add_queue(
			        rec, qs->name, msb_persistence_queue_type(qs->type));
			for (guint r = 0; r < qs->ranges->len; r++) {
				const MsbIdRange *range = &g_array_index(qs->ranges, MsbIdRange, r);
				msb_persist_queue_snapshot_add_range(qrec, range->from, range->to);
			}
		}
		g_ptr_array_add(records, rec);
	}
	snap->self = msb_persistence_ref(self);
	self->snapshot_in_flight = TRUE;
	msb_persistence_client_save_snapshot_async(self->client, records, self->cancellable,
	                                           msb_persistence_snapshot_saved_cb, snap);
}

static gboolean
msb_persistence_tick_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;
	gint64 oldest = msb_broker_get_oldest_pending_us(self->broker);
	gint64 age = oldest > 0 ? g_get_real_time() - oldest : 0;

	/* while draining only the final snapshot may be saved: a later ordinary one would
	 * reserve ids again */
	if (!self->draining &&
	    (msb_broker_get_state_generation(self->broker) != self->snapshot_generation ||
	     !self->snapshot_ever))
		msb_persistence_save_snapshot(self, FALSE);
	/* the contract: saved within EventuallyPersistenceDelay; say so when we cannot */
	if (age > self->delay_us && !self->warned_late) {
		g_warning("%" G_GINT64_FORMAT
		          " messages wait to be saved, the oldest for %" G_GINT64_FORMAT
		          " ms, longer than EventuallyPersistenceDelay; persistence at %s: %s",
		          msb_broker_get_pending_count(self->broker), age / 1000,
		          msb_persistence_client_get_target(self->client),
		          self->last_error != NULL ? self->last_error : "slow");
		self->warned_late = TRUE;
	} else if (age <= self->delay_us && self->warned_late) {
		g_message("persistence caught up: every message is saved within "
		          "EventuallyPersistenceDelay again");
		self->warned_late = FALSE;
	}
	msb_persistence_ping_if_down(self);
	msb_persistence_kick(self);
	return G_SOURCE_CONTINUE;
}

static gboolean
msb_persistence_snapshot_idle_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;

	self->snapshot_idle_id = 0;
	if (self->restored && !self->draining)
		msb_persistence_save_snapshot(self, FALSE);
	return G_SOURCE_REMOVE;
}

void
msb_persistence_snapshot_wanted(MsbPersistence *self)
{
	g_return_if_fail(self != NULL);
	if (self->snapshot_idle_id == 0 && !self->disposed)
		self->snapshot_idle_id = g_idle_add(msb_persistence_snapshot_idle_cb, self);
}

/* ---- restore ---- */

/*
 * Restore calls in flight at once: the probes (below) of this many topics run side by side, each
 * topic's own calls one after the other. As many as MsbPersistenceClient has worker threads
 * (MAX_WORKERS there): more would only wait in its queue, where the wait counts against each
 * call's deadline. One call at a time, a broker with 10,000 topics waited for 40,000 round trips
 * after a crash before it bound its client port.
 */
#define MSB_PERSISTENCE_RESTORE_CALLS 16

/*
 * One attempt at restoring: the snapshot GetSnapshot answered and what the probes found, per
 * topic. An attempt that fails is abandoned as a whole: its calls still in flight are cancelled
 * and find it failed when they come back, and the retry starts afresh from GetSnapshot.
 */
struct _MsbRestore {
	MsbPersistence *self; /* not a reference: every call of the attempt holds one on self */
	GCancellable *cancellable;
	GPtrArray *topics; /* MsbPersistTopicSnapshot* */
	GArray *max_ids;   /* gint64 per topic: the highest id held from the reservation up */
	GArray *void_from; /* gint64 per topic: ids from here to the reservation are void */
	guint next_topic;  /* the first topic whose probes have not started */
	guint n_probing;   /* topics being probed, each with one call in flight */
	guint max_probing; /* the most at once, for the log */
	guint64 calls;
	gboolean failed;
};

/* The probes of one topic of @restore, one call at a time (a reference on @restore). */
typedef struct {
	MsbRestore *restore;
	guint index;        /* of the topic in restore->topics */
	gint phase;         /* MSB_RESTORE_* (below) */
	gint64 probe_no;    /* the sub-page asked for */
	gint64 held;        /* highest id persistence holds below the reservation */
	gint64 verify_lo;   /* the lowest id of the range being verified */
	gint64 verify_from; /* the part of it asked for now (one page) */
} MsbRestoreProbe;

static void
msb_restore_clear(MsbRestore *restore)
{
	g_clear_object(&restore->cancellable);
	g_clear_pointer(&restore->topics, g_ptr_array_unref);
	g_clear_pointer(&restore->max_ids, g_array_unref);
	g_clear_pointer(&restore->void_from, g_array_unref);
}

static void
msb_restore_unref(MsbRestore *restore)
{
	g_rc_box_release_full(restore, (GDestroyNotify)msb_restore_clear);
}

static void
msb_restore_cancel(MsbRestore *restore)
{
	g_cancellable_cancel(restore->cancellable);
}

static MsbRestore *
msb_restore_new(MsbPersistence *self, GPtrArray *topics)
{
	MsbRestore *restore = g_rc_box_new0(MsbRestore);

	restore->self = self;
	restore->cancellable = g_cancellable_new();
	restore->topics = topics;
	restore->max_ids = g_array_sized_new(FALSE, FALSE, sizeof(gint64), topics->len);
	restore->void_from = g_array_sized_new(FALSE, FALSE, sizeof(gint64), topics->len);
	for (guint i = 0; i < topics->len; i++) {
		gint64 none = -1;
		gint64 nothing_void = G_MAXINT64;

		g_array_append_val(restore->max_ids, none);
		g_array_append_val(restore->void_from, nothing_void);
	}
	return restore;
}

static MsbPersistTopicSnapshot *
msb_restore_probe_topic(MsbRestoreProbe *probe)
{
	return g_ptr_array_index(probe->restore->topics, probe->index);
}

static void
msb_persistence_restore(MsbPersistence *self);
static void
msb_persistence_probe_next(MsbRestoreProbe *probe, gint64 sub_page_no);

static gboolean
msb_persistence_restore_retry_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;

	self->restore_retry_id = 0;
	msb_persistence_restore(self);
	return G_SOURCE_REMOVE;
}

static void
msb_persistence_restore_failed(MsbPersistence *self, const gchar *what, const GError *error)
{
	g_clear_handle_id(&self->restore_watch_id, g_source_remove);
	self->restore_attempts++;
	msb_persistence_set_up(self, FALSE, error);
	g_warning("waiting for persistence at %s: %s failed: %s; retrying in %d s (attempt %u); "
	          "clients are not served until topics and queues are restored",
	          msb_persistence_client_get_target(self->client), what, error->message,
	          MSB_PERSISTENCE_RESTORE_RETRY_S, self->restore_attempts);
	msb_sd_notify_status("Waiting for the persistence service at %s: %s failed: %s; retrying "
	                     "in %d s (attempt %u)",
	                     msb_persistence_client_get_target(self->client), what, error->message,
	                     MSB_PERSISTENCE_RESTORE_RETRY_S, self->restore_attempts);
	self->restore_retry_id = g_timeout_add_seconds(MSB_PERSISTENCE_RESTORE_RETRY_S,
	                                               msb_persistence_restore_retry_cb, self);
}

static void
msb_persistence_version_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistence *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *version = msb_persistence_client_get_version_finish(
	        MSB_PERSISTENCE_CLIENT(source), result, &error);

	if (version != NULL) {
		g_free(self->version);
		self->version = g_steal_pointer(&version);
	} else if (!self->disposed) {
		g_debug("persistence version unknown: %s", error->message);
	}
	msb_persistence_unref(self);
}

/* Every topic of @restore was probed: build topics and queues, in the snapshot's order. */
static void
msb_persistence_restore_apply(MsbPersistence *self, MsbRestore *restore)
{
	guint n_queues = 0;

	for (guint t = 0; t < restore->topics->len; t++) {
		MsbPersistTopicSnapshot *ts = g_ptr_array_index(restore->topics, t);
		gint64 max_id = g_array_index(restore->max_ids, gint64, t);
		g_autoptr(GError) error = NULL;
		MsbTopic *topic = msb_broker_restore_topic(
		        self->broker, ts->topic_id, ts->message_id, max_id, ts->persist, &error);
		if (topic == NULL) {
			msb_warning_fields(MSB_LOG_TOPIC(ts->topic_id),
			                   "snapshot record for topic %s skipped: %s", ts->topic_id,
			                   error->message);
			continue;
		}
		for (guint q = 0; q < ts->queues->len; q++) {
			MsbPersistQueueSnapshot *qs = g_ptr_array_index(ts->queues, q);
			g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(MsbIdRange));
			for (guint r = 0; r < qs->ranges->len; r++) {
				const MsbPersistRange *pr =
				        &g_array_index(qs->ranges, MsbPersistRange, r);
				MsbIdRange range = {pr->from_id, pr->to_id};
				g_array_append_val(ranges, range);
			}
			msb_broker_restore_queue(self->broker, topic, ts->message_id, qs->queue_id,
			                         msb_queue_type_from_wire((guint8)qs->queue_type),
			                         (const MsbIdRange *)ranges->data, ranges->len);
			n_queues++;
		}
		msb_broker_restore_unpublished(self->broker, topic,
		                               g_array_index(restore->void_from, gint64, t),
		                               ts->message_id - 1);
	}
	if (restore->calls == 0)
		g_message("restored %u topics and %u queues from persistence at %s",
		          restore->topics->len, n_queues,
		          msb_persistence_client_get_target(self->client));
	else
		g_message("restored %u topics and %u queues from persistence at %s "
		          "(%" G_GUINT64_FORMAT
		          " calls to the service, at most %u at once, %.1f s)",
		          restore->topics->len, n_queues,
		          msb_persistence_client_get_target(self->client), restore->calls + 1,
		          restore->max_probing,
		          (gdouble)(g_get_monotonic_time() - self->restore_started_us) /
		                  G_USEC_PER_SEC);
	g_clear_handle_id(&self->restore_watch_id, g_source_remove);
	self->restored = TRUE;
	msb_broker_set_restoring(self->broker, FALSE);
	/* the restored topics may not hand out ids before a snapshot reserves new ones */
	msb_persistence_save_snapshot(self, FALSE);
	msb_persistence_client_get_version_async(self->client, self->cancellable,
	                                         msb_persistence_version_cb,
	                                         msb_persistence_ref(self));
	self->tick_id = g_timeout_add_seconds(1, msb_persistence_tick_cb, self);
	if (self->ready != NULL)
		self->ready(self->ready_data);
	msb_persistence_kick(self);
}

/*
 * Restore probes, per topic of the snapshot, whose message id R is a reservation (msb-persist.h):
 *
 *  1. ABOVE: from R's sub-page up, while sub-pages are full: the highest id saved after the
 *     snapshot, so that no id the service holds is handed out again (the counter becomes
 *     max(R, that + 1)).
 *  2. When nothing at or above R is held: TOP, R - 1's sub-page (when 1 did not read it
 *     already); after a graceful stop R is the next id and this finds the last message at once.
 *     When it holds nothing either (a crash), WINDOW: from R - MSB_BROKER_ID_RESERVE (the next
 *     id when our snapshot was taken) up, while full: the ids published between the snapshot
 *     and the crash and saved.
 *  3. VERIFY: one GetPage per page (at most two) over the rest of the window up to R - 1, so that
 *     a hole (a save that failed while a later one succeeded) does not hide a saved message:
 *     normally an empty answer.
 *
 * What the service holds none of between the highest id found and R can never hold a message
 * (the counter restarts at R): msb_broker_restore_unpublished() drops it from the queues, which
 * would otherwise report up to 100,000 phantom messages and load 100 empty sub-pages before the
 * first new message. Only topics with queues need 2 and 3. A DATA_LOSS answer in 2 or 3 drops
 * nothing for that topic (the ids are then skipped as missing when queues reach them, as before).
 *
 * Topics are probed MSB_PERSISTENCE_RESTORE_CALLS at a time, in any order: each probe writes only
 * its own topic's entries, and the restore is applied in the snapshot's order once all are done.
 */
enum {
	MSB_RESTORE_PROBE_ABOVE,
	MSB_RESTORE_PROBE_TOP,
	MSB_RESTORE_PROBE_WINDOW,
	MSB_RESTORE_VERIFY,
};

static void
msb_persistence_verify_next(MsbRestoreProbe *probe);

/* Starts the probes of the next topic not started yet. */
static void
msb_restore_probe_start(MsbRestoreProbe *probe)
{
	MsbRestore *restore = probe->restore;

	probe->index = restore->next_topic++;
	probe->phase = MSB_RESTORE_PROBE_ABOVE;
	probe->probe_no = -1;
	probe->held = -1;
	probe->verify_lo = -1;
	probe->verify_from = -1;
	msb_persistence_probe_next(probe,
	                           msb_sub_page_no(msb_restore_probe_topic(probe)->message_id));
}

/* A probe with no call in flight any more: its topic is done, or the attempt is given up. */
static void
msb_restore_probe_free(MsbRestoreProbe *probe)
{
	probe->restore->n_probing--;
	msb_restore_unref(probe->restore);
	g_free(probe);
}

/* On to the next topic not started, or, after the last, apply the restore once no other topic
 * is being probed. */
static void
msb_persistence_restore_next_topic(MsbRestoreProbe *probe)
{
	MsbRestore *restore = probe->restore;
	MsbPersistence *self = restore->self;
	gboolean complete;

	msb_sd_notify_extend_timeout(MSB_PERSISTENCE_RESTORE_EXTEND_US);
	if (restore->next_topic < restore->topics->len) {
		msb_restore_probe_start(probe);
		return;
	}
	complete = restore->n_probing == 1 && !restore->failed;
	msb_restore_probe_free(probe);
	/* not failed: still self->restore, which keeps it */
	if (complete) {
		g_assert(self->restore == restore);
		msb_persistence_restore_apply(self, restore);
		g_clear_pointer(&self->restore, msb_restore_unref);
	}
}

/* A call of @probe failed: the attempt is given up and retried from GetSnapshot (once, for the
 * first call of the attempt that fails; the others are cancelled). */
static void
msb_persistence_restore_probe_failed(MsbRestoreProbe *probe, const gchar *what, const GError *error)
{
	MsbRestore *restore = probe->restore;
	MsbPersistence *self = restore->self;

	if (!restore->failed) {
		restore->failed = TRUE;
		msb_restore_cancel(restore);
		if (self->restore == restore)
			g_clear_pointer(&self->restore, msb_restore_unref);
		msb_persistence_restore_failed(self, what, error);
	}
	msb_restore_probe_free(probe);
}

static gint64
msb_persistence_window_start(const MsbPersistTopicSnapshot *ts)
{
	return MAX(ts->message_id - MSB_BROKER_ID_RESERVE, 0);
}

/* The ids [@from, R - 1] of the probe's topic are held nowhere: drop them at apply. */
static void
msb_persistence_restore_void(MsbRestoreProbe *probe, gint64 from)
{
	g_array_index(probe->restore->void_from, gint64, probe->index) = from;
	msb_persistence_restore_next_topic(probe);
}

/* A damaged sub-page in the window (DATA_LOSS): drop nothing for the probe's topic, go on with
 * the next. */
static void
msb_persistence_restore_undecided(MsbRestoreProbe *probe, const GError *error)
{
	msb_warning_fields(
	        MSB_LOG_TOPIC(msb_restore_probe_topic(probe)->topic_id),
	        "topic %s: cannot tell which reserved ids were published: %s; they stay in "
	        "the queues and are skipped when reached",
	        msb_restore_probe_topic(probe)->topic_id, error->message);
	msb_persistence_restore_next_topic(probe);
}

/* Phase 2 for the probe's topic, from the bottom of its window. */
static void
msb_persistence_probe_window(MsbRestoreProbe *probe)
{
	probe->phase = MSB_RESTORE_PROBE_WINDOW;
	probe->held = -1;
	msb_persistence_probe_next(probe, msb_sub_page_no(msb_persistence_window_start(
	                                          msb_restore_probe_topic(probe))));
}

/* A call of @probe came back: FALSE when its answer is not wanted any more (shutdown, or
 * another call of the attempt failed), after dropping @probe. */
static gboolean
msb_persistence_restore_probe_wanted(MsbRestoreProbe *probe)
{
	if (probe->restore->self->disposed || probe->restore->failed) {
		msb_restore_probe_free(probe);
		return FALSE;
	}
	return TRUE;
}

static void
msb_persistence_probe_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbRestoreProbe *probe = user_data;
	MsbPersistence *self = probe->restore->self;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) batch = msb_persistence_client_get_sub_page_finish(
	        MSB_PERSISTENCE_CLIENT(source), result, &error);
	MsbPersistTopicSnapshot *ts;
	gint64 *max_id;
	gint64 sub_page_no;
	gint64 last_of_sub;

	if (!msb_persistence_restore_probe_wanted(probe)) {
		msb_persistence_unref(self);
		return;
	}
	ts = msb_restore_probe_topic(probe);
	if (batch == NULL && probe->phase != MSB_RESTORE_PROBE_ABOVE &&
	    g_error_matches(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_DATA_LOSS)) {
		msb_persistence_restore_undecided(probe, error);
		msb_persistence_unref(self);
		return;
	}
	if (batch == NULL) {
		msb_persistence_restore_probe_failed(probe, "GetSubPage", error);
		msb_persistence_unref(self);
		return;
	}
	max_id = &g_array_index(probe->restore->max_ids, gint64, probe->index);
	sub_page_no = probe->probe_no;
	last_of_sub = (sub_page_no + 1) * MSB_SUB_PAGE_SIZE - 1;
	if (probe->phase == MSB_RESTORE_PROBE_ABOVE) {
		for (gsize i = 0; i < batch->n_messages; i++)
			*max_id = MAX(*max_id, batch->messages[i].id);
		/* a sub-page saved up to its last id may continue in the next one */
		if (batch->n_messages > 0 && *max_id == last_of_sub) {
			msb_persistence_probe_next(probe, sub_page_no + 1);
		} else if (*max_id < ts->message_id && ts->message_id > 0 && ts->persist &&
		           ts->queues->len > 0) {
			/* nothing at or above the reservation: which ids below it were used? */
			if (msb_sub_page_no(ts->message_id - 1) == sub_page_no && *max_id >= 0) {
				/* the sub-page just read holds R - 1: its highest id is it */
				msb_persistence_restore_void(probe, *max_id + 1);
			} else if (msb_sub_page_no(ts->message_id - 1) == sub_page_no) {
				msb_persistence_probe_window(probe);
			} else {
				probe->phase = MSB_RESTORE_PROBE_TOP;
				msb_persistence_probe_next(probe,
				                           msb_sub_page_no(ts->message_id - 1));
			}
		} else {
			msb_persistence_restore_next_topic(probe);
		}
	} else if (probe->phase == MSB_RESTORE_PROBE_TOP) {
		gint64 top = -1;

		for (gsize i = 0; i < batch->n_messages; i++)
			top = MAX(top, batch->messages[i].id);
		if (top >= 0 && top < ts->message_id)
			msb_persistence_restore_void(probe, top + 1);
		else
			msb_persistence_probe_window(probe);
	} else {
		gint64 top = -1;

		for (gsize i = 0; i < batch->n_messages; i++)
			top = MAX(top, batch->messages[i].id);
		probe->held = MAX(probe->held, top);
		if (top == last_of_sub && last_of_sub < ts->message_id - 1) {
			msb_persistence_probe_next(probe, sub_page_no + 1);
		} else {
			probe->phase = MSB_RESTORE_VERIFY;
			probe->verify_lo = MAX(probe->held + 1, msb_persistence_window_start(ts));
			probe->verify_from = ts->message_id;
			msb_persistence_verify_next(probe);
		}
	}
	msb_persistence_unref(self);
}

static void
msb_persistence_verify_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbRestoreProbe *probe = user_data;
	MsbPersistence *self = probe->restore->self;
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbMessageBatch) batch = msb_persistence_client_get_page_finish(
	        MSB_PERSISTENCE_CLIENT(source), result, &error);
	MsbPersistTopicSnapshot *ts;
	gint64 top = -1;

	if (!msb_persistence_restore_probe_wanted(probe)) {
		msb_persistence_unref(self);
		return;
	}
	ts = msb_restore_probe_topic(probe);
	if (batch == NULL &&
	    g_error_matches(error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_DATA_LOSS)) {
		msb_persistence_restore_undecided(probe, error);
		msb_persistence_unref(self);
		return;
	}
	if (batch == NULL) {
		msb_persistence_restore_probe_failed(probe, "GetPage", error);
		msb_persistence_unref(self);
		return;
	}
	/* only ids in the range asked for count (a service may answer more, persistence.md Q6) */
	for (gsize i = 0; i < batch->n_messages; i++) {
		gint64 id = batch->messages[i].id;
		if (id >= probe->verify_from && id < ts->message_id)
			top = MAX(top, id);
	}
	if (top >= 0)
		msb_persistence_restore_void(probe, top + 1);
	else if (probe->verify_from > probe->verify_lo)
		msb_persistence_verify_next(probe);
	else
		msb_persistence_restore_void(probe, probe->verify_lo);
	msb_persistence_unref(self);
}

/* Ask for the highest page of [verify_lo, verify_from - 1] not asked yet (pages from the top: the
 * first that holds anything gives the highest id held). */
static void
msb_persistence_verify_next(MsbRestoreProbe *probe)
{
	MsbPersistence *self = probe->restore->self;
	MsbPersistTopicSnapshot *ts = msb_restore_probe_topic(probe);
	gint64 hi = probe->verify_from - 1;
	gint64 page;

	if (hi < probe->verify_lo) {
		msb_persistence_restore_void(probe, probe->verify_lo);
		return;
	}
	page = msb_page_no(hi);
	probe->verify_from = MAX(probe->verify_lo, page * MSB_PAGE_SIZE);
	probe->restore->calls++;
	msb_persistence_ref(self);
	msb_persistence_client_get_page_async(self->client, ts->topic_id, page, probe->verify_from,
	                                      hi, probe->restore->cancellable,
	                                      msb_persistence_verify_cb, probe);
}

/* Asks for @sub_page_no of the probe's topic (see above). */
static void
msb_persistence_probe_next(MsbRestoreProbe *probe, gint64 sub_page_no)
{
	MsbPersistence *self = probe->restore->self;

	probe->probe_no = sub_page_no;
	probe->restore->calls++;
	msb_persistence_ref(self);
	msb_persistence_client_get_sub_page_async(
	        self->client, msb_restore_probe_topic(probe)->topic_id, sub_page_no,
	        probe->restore->cancellable, msb_persistence_probe_cb, probe);
}

static void
msb_persistence_snapshot_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	MsbPersistence *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) topics = msb_persistence_client_get_snapshot_finish(
	        MSB_PERSISTENCE_CLIENT(source), result, &error);
	MsbRestore *restore;

	if (self->disposed) {
		msb_persistence_unref(self);
		return;
	}
	if (topics == NULL) {
		msb_persistence_restore_failed(self, "GetSnapshot", error);
		msb_persistence_unref(self);
		return;
	}
	msb_persistence_set_up(self, TRUE, NULL);
	g_clear_pointer(&self->restore, msb_restore_unref);
	msb_sd_notify_status("Restoring %u topics from the persistence service at %s", topics->len,
	                     msb_persistence_client_get_target(self->client));
	msb_sd_notify_extend_timeout(MSB_PERSISTENCE_RESTORE_EXTEND_US);
	restore = msb_restore_new(self, g_steal_pointer(&topics));
	self->restore = restore;
	if (restore->topics->len == 0) {
		msb_persistence_restore_apply(self, restore);
		g_clear_pointer(&self->restore, msb_restore_unref);
		msb_persistence_unref(self);
		return;
	}
	/* the first calls of up to MSB_PERSISTENCE_RESTORE_CALLS topics; each next topic starts
	 * when one is done */
	while (restore->next_topic < restore->topics->len &&
	       restore->n_probing < MSB_PERSISTENCE_RESTORE_CALLS) {
		MsbRestoreProbe *probe = g_new0(MsbRestoreProbe, 1);

		probe->restore = g_rc_box_acquire(restore);
		restore->n_probing++;
		restore->max_probing = MAX(restore->max_probing, restore->n_probing);
		msb_restore_probe_start(probe);
	}
	msb_persistence_unref(self);
}

/*
 * A restore call does not fail while nothing listens at the service's address: the client waits
 * for a connection until the call's deadline (a minute for GetSnapshot) and goes ahead within a
 * few hundred milliseconds of the service coming up. Until then, say every few seconds that we
 * wait and why, in the log and in the status (node.md §4.1: the broker says it keeps retrying).
 */
static gboolean
msb_persistence_restore_watch_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;
	gboolean connected = msb_persistence_client_get_connected(self->client);
	gint64 waited_s = (g_get_monotonic_time() - self->restore_started_us) / G_USEC_PER_SEC;
	g_autoptr(GError) error = NULL;

	g_set_error(&error, MSB_PERSISTENCE_ERROR, MSB_PERSISTENCE_ERROR_UNAVAILABLE,
	            "no answer for %" G_GINT64_FORMAT " s (%s)", waited_s,
	            connected ? "connected, the service is busy"
	                      : "cannot connect; is my-service-bus-persistence running?");
	msb_persistence_set_up(self, FALSE, error);
	g_warning("waiting for persistence at %s: %s; retrying, reported every %d s; clients are "
	          "not served until topics and queues are restored",
	          msb_persistence_client_get_target(self->client), error->message,
	          MSB_PERSISTENCE_RESTORE_RETRY_S);
	msb_sd_notify_status("Waiting for the persistence service at %s: %s",
	                     msb_persistence_client_get_target(self->client), error->message);
	return G_SOURCE_CONTINUE;
}

static void
msb_persistence_restore(MsbPersistence *self)
{
	if (self->disposed)
		return;
	self->restore_started_us = g_get_monotonic_time();
	if (self->restore_watch_id == 0)
		self->restore_watch_id = g_timeout_add_seconds(
		        MSB_PERSISTENCE_RESTORE_RETRY_S, msb_persistence_restore_watch_cb, self);
	msb_persistence_client_get_snapshot_async(self->client, self->cancellable,
	                                          msb_persistence_snapshot_cb,
	                                          msb_persistence_ref(self));
}

void
msb_persistence_start(MsbPersistence *self, MsbBroker *broker, GSourceFunc ready,
                      gpointer ready_data)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(broker != NULL);
	self->broker = broker;
	/* the HTTP API answers meanwhile: a topic it created would clash with the restored one */
	msb_broker_set_restoring(broker, TRUE);
	self->ready = ready;
	self->ready_data = ready_data;
	g_message("restoring topics and queues from persistence at %s",
	          msb_persistence_client_get_target(self->client));
	msb_sd_notify_status("Waiting for the persistence service at %s to restore topics and "
	                     "queues",
	                     msb_persistence_client_get_target(self->client));
	msb_persistence_restore(self);
}

gboolean
msb_persistence_is_restored(MsbPersistence *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->restored;
}

/* ---- drain ---- */

static gboolean
msb_persistence_drain_cb(gpointer user_data)
{
	MsbPersistence *self = user_data;
	gint64 pending = msb_broker_get_pending_count(self->broker);
	gboolean late = g_get_monotonic_time() > self->drain_deadline;

	msb_persistence_kick(self);
	if (!late && (pending > 0 || self->saves_in_flight > 0))
		return G_SOURCE_CONTINUE;
	if (!late && !self->final_saved) {
		/* everything is saved: the final snapshot, with in-flight ids as waiting and no
		 * ids reserved ahead, so that a clean restart continues where this one stopped */
		if (!self->snapshot_in_flight)
			msb_persistence_save_snapshot(self, TRUE);
		return G_SOURCE_CONTINUE;
	}
	if (late)
		g_warning("shutdown: gave up waiting for persistence at %s: %" G_GINT64_FORMAT
		          " messages were not saved%s",
		          msb_persistence_client_get_target(self->client), pending,
		          self->final_saved ? "" : " and the final snapshot was not saved");
	else
		g_message("shutdown: every message and the final snapshot are saved");
	self->drain_id = 0;
	if (self->drain_done != NULL)
		self->drain_done(self->drain_data);
	return G_SOURCE_REMOVE;
}

void
msb_persistence_drain(MsbPersistence *self, gint64 timeout_us, GSourceFunc done, gpointer done_data)
{
	g_return_if_fail(self != NULL);
	if (!self->restored || self->broker == NULL) {
		/* nothing was restored, so nothing new can have been published */
		if (done != NULL)
			done(done_data);
		return;
	}
	g_message("shutdown: saving %" G_GINT64_FORMAT " pending messages and the final snapshot",
	          msb_broker_get_pending_count(self->broker));
	self->draining = TRUE;
	self->drain_deadline = g_get_monotonic_time() + timeout_us;
	self->drain_done = done;
	self->drain_data = done_data;
	/* a back-off in progress would only slow the drain down */
	g_clear_handle_id(&self->save_retry_id, g_source_remove);
	self->drain_id = g_timeout_add(20, msb_persistence_drain_cb, self);
}

void
msb_persistence_get_info(MsbPersistence *self, MsbHttpInfo *info)
{
	gint64 oldest;

	g_return_if_fail(self != NULL);
	g_return_if_fail(info != NULL);
	info->persistence_url = msb_persistence_client_get_target(self->client);
	info->persistence_up = self->up;
	info->persistence_version = self->version;
	info->persistence_error = self->last_error;
	info->saves = self->saves;
	info->save_failures = self->save_failures;
	info->loads = self->loads;
	info->load_failures = self->load_failures;
	info->damaged_loads = self->damaged_loads;
	info->snapshots = self->snapshots;
	info->snapshot_failures = self->snapshot_failures;
	info->save_latency = self->save_latency;
	oldest = self->broker != NULL ? msb_broker_get_oldest_pending_us(self->broker) : 0;
	info->oldest_pending_age_us = oldest > 0 ? g_get_real_time() - oldest : 0;
	if (!self->restored)
		info->state = "waiting for persistence";
}

MsbPersistenceClient *
msb_persistence_get_client(MsbPersistence *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->client;
}
