/*
 * The status page's JSON, written without a JsonNode tree (msb-status-render.c): it must be the
 * very text json-glib's generator gives for the same document, escapes included (a client's
 * Greeting name may hold quotes, control bytes and any UTF-8), and the metrics must list each
 * topic and queue.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "broker-fixture.h"
#include "msb-broker-stats.h"
#include "msb-history.h"
#include "msb-status-render.h"

static void
test_render_json_is_json_glib(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *odd = client_new_raw(fx);
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autofree gchar *again = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(GPtrArray) batches = NULL;
	MsbHttpInfo info = {
	        .state = "running",
	        .persistence_url = "http://127.0.0.1:1/\"x\"",
	        .persistence_error = "line 1\nline 2\t\\",
	        .saves = 7,
	};
	const gchar *name = "we\"ird\\ app\t\x01\x1f\x7f caf\xc3\xa9";
	JsonObject *root;
	JsonArray *sessions;
	gboolean found = FALSE;

	g_assert_true(c_greet_full(odd, name, 3, &error));
	g_assert_no_error(error);
	make_topic(fx, "orders");
	make_topic(fx, "alpha");
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "orders", 1500, 3));
	batches = c_read(sub);
	fx->mono += SEC / 2;

	stats = msb_broker_collect_stats(fx->broker);
	body = msb_status_render_json(stats, &info, "default");
	text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	/* json-glib writes the parsed document back as the same text */
	again = json_to_string(json_parser_get_root(parser), FALSE);
	g_assert_cmpstr(again, ==, text);

	root = json_node_get_object(json_parser_get_root(parser));
	sessions = json_object_get_array_member(json_object_get_object_member(root, "sessions"),
	                                        "items");
	for (guint i = 0; i < json_array_get_length(sessions); i++) {
		JsonObject *s = json_array_get_object_element(sessions, i);
		if (g_strcmp0(json_object_get_string_member(s, "name"), name) == 0)
			found = TRUE;
	}
	g_assert_true(found);
	g_assert_cmpstr(json_object_get_string_member(
	                        json_object_get_object_member(root, "persistence"), "lastError"),
	                ==, info.persistence_error);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
	                         json_object_get_object_member(root, "topics"), "items")),
	                 ==, 2);
	/* the subscriber on delivery: "0.5s <ids in flight>" */
	g_assert_nonnull(strstr(text, "\"deliveryStateStr\":\"0.5s "));
}

static void
test_render_metrics(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *sub = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *text = NULL;
	MsbHttpInfo info = {.state = "running", .tcp_connections = 3};

	make_topic(fx, "orders");
	make_topic(fx, "alpha");
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	stats = msb_broker_collect_stats(fx->broker);
	body = msb_status_render_metrics(stats, &info);
	text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	g_assert_nonnull(strstr(text, "\ntopic_queue_size{namespace=\"default\",topic=\"orders\","
	                              "queue=\"billing\"} 0\n"));
	g_assert_nonnull(
	        strstr(text, "\ntopic_next_message_id{namespace=\"default\",topic=\"alpha\"} 0\n"));
	g_assert_nonnull(strstr(text, "\ntopics_without_queues 1\n"));
	g_assert_nonnull(strstr(text, "\npermanent_queues_without_subscribers 0\n"));
	g_assert_nonnull(strstr(text, "\ntcp_connections{tcp_metric=\"count\"} 3\n"));
	g_assert_nonnull(strstr(text, "\nmsb_up 1\n"));
}

static void
test_format_duration(void)
{
	const struct {
		gint64 us;
		const gchar *text;
	} cases[] = {
	        {0, "0ns"},
	        {-5, "0ns"},
	        {1, "1µs"},
	        {250, "250µs"},
	        {1000, "1ms"},
	        {1500, "1.5ms"},
	        {1001, "1.001ms"},
	        {999999, "999.999ms"},
	        {1000000, "1s"},
	        {12345600, "12.3456s"},
	        {12000001, "12.000001s"},
	        {59999999, "59.999999s"},
	        {60 * SEC, "00:01:00"},
	        {3723 * SEC + 500000, "01:02:03"},
	        {86399 * SEC, "23:59:59"},
	        {86400 * SEC, "1d:00:00:00"},
	        {(2 * 86400 + 3 * 3600 + 4 * 60 + 5) * SEC, "2d:03:04:05"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = msb_status_format_duration(cases[i].us);
		g_assert_cmpstr(text, ==, cases[i].text);
	}
}

static JsonObject *
parse_status(JsonParser *parser, const MsbBrokerStats *stats, const gchar *ns)
{
	MsbHttpInfo info = {.state = "running"};
	g_autoptr(GBytes) body = msb_status_render_json(stats, &info, ns);
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, g_bytes_get_data(body, NULL),
	                           (gssize)g_bytes_get_size(body), &error);
	g_assert_no_error(error);
	return json_node_get_object(json_parser_get_root(parser));
}

/* The §6.4 fields of topics, subscribers, publishers and sessions, and the namespace filter:
 * topics of the namespace asked for, sessions of all. */
static void
test_render_fields(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 2, 0);
	Client *other = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(JsonParser) parser2 = json_parser_new();
	g_autoptr(GPtrArray) batches = NULL;
	JsonObject *root;
	JsonObject *topic;
	JsonObject *s;
	JsonArray *items;
	JsonArray *sessions;

	/* a Unix-socket client speaks the TCP protocol: "tcp[P]"; an HTTP session: "http" */
	MsbSession *unix_session =
	        msb_broker_session_new(fx->broker, MSB_SESSION_KIND_UNIX, "unix", NULL);
	MsbSession *http_session =
	        msb_broker_session_new(fx->broker, MSB_SESSION_KIND_HTTP, "127.0.0.1:1", NULL);

	make_topic(fx, "orders");
	c_namespace(other, "tenant");
	c_read(other);
	c_subscribe(sub, "orders", "billing", MSB_QUEUE_TYPE_PERMANENT);
	expect_response(pub, c_publish_n(pub, "orders", 4, 50));
	batches = c_read(sub);
	fx->mono += SEC;
	fx->wall += 75 * SEC;
	stats = msb_broker_collect_stats(fx->broker);

	root = parse_status(parser, stats, "default");
	items = json_object_get_array_member(json_object_get_object_member(root, "topics"),
	                                     "items");
	g_assert_cmpuint(json_array_get_length(items), ==, 1);
	topic = json_array_get_object_element(items, 0);
	g_assert_cmpstr(json_object_get_string_member(topic, "id"), ==, "orders");
	g_assert_cmpint(json_object_get_int_member(topic, "messageId"), ==, 4);
	g_assert_cmpint(json_object_get_int_member(topic, "packetPerSec"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(topic, "messagesPerSec"), ==, 4);
	g_assert_cmpint(json_object_get_int_member(topic, "meanMessageSize"), ==, 50);
	g_assert_cmpuint(
	        json_array_get_length(json_object_get_array_member(topic, "publishHistory")), ==,
	        1);
	g_assert_cmpint(json_array_get_int_element(
	                        json_object_get_array_member(topic, "publishHistory"), 0),
	                ==, 4);
	s = json_array_get_object_element(json_object_get_array_member(topic, "publishers"), 0);
	g_assert_cmpint(json_object_get_int_member(s, "sessionId"), ==,
	                msb_session_get_id(pub->session));
	g_assert_cmpint(json_object_get_int_member(s, "active"), ==, 1);
	s = json_array_get_object_element(json_object_get_array_member(topic, "subscribers"), 0);
	g_assert_cmpint(json_object_get_int_member(s, "sessionId"), ==,
	                msb_session_get_id(sub->session));
	g_assert_cmpint(json_object_get_int_member(s, "active"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(s, "deliveryState"), ==, 2);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(json_object_get_member(s, "history")));
	g_assert_true(
	        json_object_has_member(json_object_get_object_member(root, "queues"), "orders"));
	sessions = json_object_get_array_member(json_object_get_object_member(root, "sessions"),
	                                        "items");
	g_assert_cmpuint(json_array_get_length(sessions), ==, 5);
	for (guint i = 0; i < json_array_get_length(sessions); i++) {
		s = json_array_get_object_element(sessions, i);
		gint64 id = json_object_get_int_member(s, "id");
		if (id == msb_session_get_id(unix_session) ||
		    id == msb_session_get_id(http_session)) {
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==,
			                id == msb_session_get_id(http_session) ? "http" : "tcp[0]");
			continue;
		}
		if (id == msb_session_get_id(sub->session))
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==, "tcp[2]");
		else
			g_assert_cmpstr(json_object_get_string_member(s, "type"), ==, "tcp[3]");
		g_assert_cmpstr(json_object_get_string_member(s, "namespace"), ==,
		                id == msb_session_get_id(other->session) ? "tenant" : "default");
		g_assert_cmpstr(json_object_get_string_member(s, "connected"), ==, "00:01:15");
		g_assert_cmpint(json_object_get_int_member(s, "readSize"), ==, 0);
		g_assert_cmpint(json_object_get_int_member(s, "writtenPerSec"), ==, 0);
	}

	/* another namespace: no topic, no queue, every session */
	root = parse_status(parser2, stats, "tenant");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
	                         json_object_get_object_member(root, "topics"), "items")),
	                 ==, 0);
	g_assert_cmpuint(json_object_get_size(json_object_get_object_member(root, "queues")), ==,
	                 0);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(
	                         json_object_get_object_member(root, "sessions"), "items")),
	                 ==, 5);
	msb_broker_session_close(fx->broker, unix_session);
	msb_broker_session_close(fx->broker, http_session);
}

/* Past MSB_STATUS_SUBSCRIBER_HISTORY_BUDGET values in all, each latency history shows only its
 * most recent seconds. */
static void
test_render_history_budget(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	const guint n_queues = 2 * MSB_STATUS_SUBSCRIBER_HISTORY_BUDGET / MSB_HISTORY_LEN;
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GPtrArray) batches = NULL;
	JsonArray *subs;
	JsonObject *topic;

	make_topic(fx, "orders");
	for (guint q = 0; q < n_queues; q++) {
		g_autofree gchar *queue = g_strdup_printf("q%04u", q);
		c_subscribe(sub, "orders", queue, MSB_QUEUE_TYPE_PERMANENT);
	}
	expect_response(pub, c_publish_n(pub, "orders", 1, 10));
	batches = c_read(sub);
	g_assert_cmpuint(batches->len, ==, n_queues);
	fx->mono += SEC / 10;
	for (guint i = 0; i < batches->len; i++)
		c_ok(sub, g_ptr_array_index(batches, i));
	/* every history: the delivery's second and 99 seconds of nothing */
	fx->mono += 100 * SEC;
	stats = msb_broker_collect_stats(fx->broker);
	topic = json_array_get_object_element(
	        json_object_get_array_member(
	                json_object_get_object_member(parse_status(parser, stats, "default"),
	                                              "topics"),
	                "items"),
	        0);
	g_assert_cmpstr(json_object_get_string_member(topic, "id"), ==, "orders");
	subs = json_object_get_array_member(topic, "subscribers");
	g_assert_cmpuint(json_array_get_length(subs), ==, n_queues);
	for (guint i = 0; i < n_queues; i++) {
		JsonArray *h = json_object_get_array_member(json_array_get_object_element(subs, i),
		                                            "history");
		g_assert_cmpuint(json_array_get_length(h), ==, MSB_HISTORY_LEN / 2);
		/* the most recent: the zeros, not the delivery's second */
		g_assert_cmpint(json_array_get_int_element(h, 0), ==, 0);
	}
}

static JsonObject *
parse_bytes(JsonParser *parser, GBytes *body)
{
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, g_bytes_get_data(body, NULL),
	                           (gssize)g_bytes_get_size(body), &error);
	g_assert_no_error(error);
	return json_node_get_object(json_parser_get_root(parser));
}

static JsonArray *
topic_items(JsonObject *root)
{
	return json_object_get_array_member(json_object_get_object_member(root, "topics"), "items");
}

/* The topic of that name in a page's items, or NULL. */
static JsonNode *
find_topic(JsonObject *root, const gchar *name)
{
	JsonArray *items = topic_items(root);

	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		if (g_strcmp0(json_object_get_string_member(t, "id"), name) == 0)
			return json_array_get_element(items, i);
	}
	return NULL;
}

/* /api/Status/First: the first topics in the order asked for, each exactly as the whole page
 * shows it with its queues, only the sessions they name, and a summary whose totals are what
 * the UI adds up over the whole page. */
static void
test_render_first(void)
{
	g_autoptr(Fixture) fx = fixture_new();
	Client *pub = client_new(fx, 3, 1);
	Client *sub = client_new(fx, 3, 1);
	Client *gone = client_new(fx, 3, 1);
	Client *idle = client_new(fx, 3, 1);
	g_autoptr(MsbBrokerStats) stats = NULL;
	g_autoptr(GBytes) whole_body = NULL;
	g_autoptr(JsonParser) whole_parser = json_parser_new();
	g_autoptr(GPtrArray) batches = NULL;
	MsbHttpInfo info = {.state = "running"};
	JsonObject *whole;
	JsonArray *items;
	gint64 msgs = 0, persist = 0, waiting = 0, cached = 0, pages = 0;
	const gchar *names[] = {"a-empty", "b-sub", "c-backlog", "d-busy", "e-quiet"};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++)
		make_topic(fx, names[i]);
	c_subscribe(sub, "b-sub", "live", MSB_QUEUE_TYPE_PERMANENT);
	/* a permanent queue whose subscriber left: what is published next waits in it */
	c_subscribe(gone, "c-backlog", "slow", MSB_QUEUE_TYPE_PERMANENT);
	c_ping(gone);
	c_read(gone);
	client_close(gone);
	expect_response(pub, c_publish_n(pub, "c-backlog", MSB_STATUS_PROBLEM_WAITING + 1, 1));
	expect_response(pub, c_publish_n(pub, "d-busy", 40, 10));
	expect_response(pub, c_publish_n(pub, "b-sub", 3, 10));
	batches = c_read(sub);
	c_ping(idle);
	c_read(idle);
	fx->mono += SEC;
	stats = msb_broker_collect_stats(fx->broker);

	whole_body = msb_status_render_json(stats, &info, "default");
	whole = parse_bytes(whole_parser, whole_body);
	items = topic_items(whole);
	g_assert_cmpuint(json_array_get_length(items), ==, G_N_ELEMENTS(names));
	/* the totals as ui/js/model.js adds them up over the whole page */
	for (guint i = 0; i < json_array_get_length(items); i++) {
		JsonObject *t = json_array_get_object_element(items, i);
		JsonArray *pg = json_object_get_array_member(t, "pages");
		JsonArray *qs = json_object_get_array_member(
		        json_object_get_object_member(
		                json_object_get_object_member(whole, "queues"),
		                json_object_get_string_member(t, "id")),
		        "queues");
		msgs += json_object_get_int_member(t, "messagesPerSec");
		persist += json_object_get_int_member(t, "persistSize");
		pages += json_array_get_length(pg);
		for (guint p = 0; p < json_array_get_length(pg); p++)
			cached += json_object_get_int_member(json_array_get_object_element(pg, p),
			                                     "size");
		for (guint q = 0; q < json_array_get_length(qs); q++)
			waiting += json_object_get_int_member(json_array_get_object_element(qs, q),
			                                      "size");
	}
	g_assert_cmpint(msgs, >, 0);
	g_assert_cmpint(waiting, >, MSB_STATUS_PROBLEM_WAITING);
	g_assert_cmpint(pages, >, 0);

	/* by name, two: a-empty and b-sub, and the one session they name (the subscriber's) */
	{
		g_autoptr(GBytes) body = msb_status_render_json_first(stats, &info, "default", 2,
		                                                      MSB_STATUS_SORT_NAME);
		g_autoptr(JsonParser) parser = json_parser_new();
		JsonObject *root = parse_bytes(parser, body);
		JsonObject *sum = json_object_get_object_member(root, "summary");
		JsonArray *first = topic_items(root);
		JsonArray *sessions = json_object_get_array_member(
		        json_object_get_object_member(root, "sessions"), "items");
		JsonObject *queues = json_object_get_object_member(root, "queues");
		JsonObject *problem;

		g_assert_cmpuint(json_array_get_length(first), ==, 2);
		for (guint i = 0; i < 2; i++) {
			JsonNode *node = json_array_get_element(first, i);
			const gchar *id =
			        json_object_get_string_member(json_node_get_object(node), "id");
			g_assert_cmpstr(id, ==, names[i]);
			/* the same topic, and the same queues, as the whole page has them */
			g_assert_true(json_node_equal(node, find_topic(whole, id)));
			g_assert_true(json_node_equal(
			        json_object_get_member(queues, id),
			        json_object_get_member(
			                json_object_get_object_member(whole, "queues"), id)));
		}
		g_assert_cmpuint(json_object_get_size(queues), ==, 2);
		/* the publisher and the subscriber of b-sub, not the idle session */
		{
			JsonObject *b = json_node_get_object(find_topic(whole, "b-sub"));
			gint64 want[2] = {
			        json_object_get_int_member(
			                json_array_get_object_element(
			                        json_object_get_array_member(b, "publishers"), 0),
			                "sessionId"),
			        json_object_get_int_member(
			                json_array_get_object_element(
			                        json_object_get_array_member(b, "subscribers"), 0),
			                "sessionId"),
			};
			g_assert_cmpuint(json_array_get_length(sessions), ==, 2);
			for (guint i = 0; i < 2; i++) {
				gint64 id = json_object_get_int_member(
				        json_array_get_object_element(sessions, i), "id");
				g_assert_true(id == want[0] || id == want[1]);
			}
		}
		g_assert_true(json_node_equal(json_object_get_member(root, "persistence"),
		                              json_object_get_member(whole, "persistence")));
		g_assert_cmpint(json_object_get_int_member(sum, "topics"), ==, G_N_ELEMENTS(names));
		g_assert_cmpint(
		        json_object_get_int_member(sum, "sessions"), ==,
		        json_array_get_length(json_object_get_array_member(
		                json_object_get_object_member(whole, "sessions"), "items")));
		g_assert_cmpint(json_object_get_int_member(sum, "messagesPerSec"), ==, msgs);
		g_assert_cmpint(json_object_get_int_member(sum, "persistSize"), ==, persist);
		g_assert_cmpint(json_object_get_int_member(sum, "waiting"), ==, waiting);
		g_assert_cmpint(json_object_get_int_member(sum, "cachedBytes"), ==, cached);
		g_assert_cmpint(json_object_get_int_member(sum, "pages"), ==, pages);
		g_assert_cmpint(json_object_get_int_member(sum, "problemQueues"), ==, 1);
		problem = json_array_get_object_element(
		        json_object_get_array_member(sum, "problems"), 0);
		g_assert_cmpstr(json_object_get_string_member(problem, "topic"), ==, "c-backlog");
		g_assert_cmpstr(json_object_get_string_member(problem, "queue"), ==, "slow");
		g_assert_cmpint(json_object_get_int_member(problem, "size"), ==,
		                MSB_STATUS_PROBLEM_WAITING + 1);
	}

	/* the other orders of the UI's list: largest first, ties by name */
	{
		const struct {
			MsbStatusSort sort;
			const gchar *first;
			const gchar *second;
		} cases[] = {
		        {MSB_STATUS_SORT_RATE, "c-backlog", "d-busy"},
		        {MSB_STATUS_SORT_WAITING, "c-backlog", "a-empty"},
		        {MSB_STATUS_SORT_PERSIST, "a-empty", "b-sub"},
		};
		for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
			g_autoptr(GBytes) body = msb_status_render_json_first(
			        stats, &info, "default", 2, cases[c].sort);
			g_autoptr(JsonParser) parser = json_parser_new();
			JsonArray *first = topic_items(parse_bytes(parser, body));
			g_assert_cmpuint(json_array_get_length(first), ==, 2);
			g_assert_cmpstr(json_object_get_string_member(
			                        json_array_get_object_element(first, 0), "id"),
			                ==, cases[c].first);
			g_assert_cmpstr(json_object_get_string_member(
			                        json_array_get_object_element(first, 1), "id"),
			                ==, cases[c].second);
		}
	}

	/* more than there are: all of them; another namespace: none */
	{
		g_autoptr(GBytes) all = msb_status_render_json_first(stats, &info, "default", 500,
		                                                     MSB_STATUS_SORT_NAME);
		g_autoptr(GBytes) none = msb_status_render_json_first(stats, &info, "tenant", 10,
		                                                      MSB_STATUS_SORT_NAME);
		g_autoptr(JsonParser) p1 = json_parser_new();
		g_autoptr(JsonParser) p2 = json_parser_new();
		JsonObject *r1 = parse_bytes(p1, all);
		JsonObject *r2 = parse_bytes(p2, none);
		g_assert_true(json_node_equal(json_object_get_member(r1, "topics"),
		                              json_object_get_member(whole, "topics")));
		g_assert_cmpuint(json_array_get_length(topic_items(r2)), ==, 0);
		g_assert_cmpint(json_object_get_int_member(
		                        json_object_get_object_member(r2, "summary"), "topics"),
		                ==, 0);
	}
}

static void
test_sort_from_string(void)
{
	MsbStatusSort sort = MSB_STATUS_SORT_NAME;

	g_assert_true(msb_status_sort_from_string("rate", &sort));
	g_assert_cmpint(sort, ==, MSB_STATUS_SORT_RATE);
	g_assert_true(msb_status_sort_from_string("Waiting", &sort));
	g_assert_cmpint(sort, ==, MSB_STATUS_SORT_WAITING);
	g_assert_true(msb_status_sort_from_string("persist", &sort));
	g_assert_cmpint(sort, ==, MSB_STATUS_SORT_PERSIST);
	g_assert_true(msb_status_sort_from_string("NAME", &sort));
	g_assert_cmpint(sort, ==, MSB_STATUS_SORT_NAME);
	g_assert_false(msb_status_sort_from_string("size", &sort));
	g_assert_false(msb_status_sort_from_string("", &sort));
	g_assert_false(msb_status_sort_from_string(NULL, &sort));
	g_assert_cmpint(sort, ==, MSB_STATUS_SORT_NAME);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/status-render/json-is-json-glib", test_render_json_is_json_glib);
	g_test_add_func("/status-render/metrics", test_render_metrics);
	g_test_add_func("/status-render/format-duration", test_format_duration);
	g_test_add_func("/status-render/fields", test_render_fields);
	g_test_add_func("/status-render/history-budget", test_render_history_budget);
	g_test_add_func("/status-render/first", test_render_first);
	g_test_add_func("/status-render/sort-from-string", test_sort_from_string);

	return g_test_run();
}
