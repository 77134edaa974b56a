#include "SecretService.hxx"

#include "SessionBus.hxx"
#include "core/util/Escape.hxx"

#include <libsecret/secret.h>

#include <memory>

namespace popstream::secret {

namespace {

/** The name libsecret stores as xdg:schema on our items. Lookups do not match it
 * (SECRET_SCHEMA_DONT_MATCH_NAME): items stored by secret-tool carry none. */
constexpr const char *schema_name = "io.github.popstream.Secret";

struct ErrorFree {
	void operator()(GError *e) const noexcept { g_error_free(e); }
};
using ErrorPtr = std::unique_ptr<GError, ErrorFree>;

struct SchemaUnref {
	void operator()(SecretSchema *s) const noexcept { secret_schema_unref(s); }
};
using SchemaPtr = std::unique_ptr<SecretSchema, SchemaUnref>;

struct HashTableUnref {
	void operator()(GHashTable *t) const noexcept { g_hash_table_unref(t); }
};
using HashTablePtr = std::unique_ptr<GHashTable, HashTableUnref>;

struct ValueUnref {
	void operator()(SecretValue *v) const noexcept { secret_value_unref(v); }
};
using ValuePtr = std::unique_ptr<SecretValue, ValueUnref>;

/** @return "{name=value, ...}" for messages: attributes are stored in the clear and
 * meant for searching, so they are no secret */
std::string Describe(const Attributes &attributes)
{
	std::string text = "{";
	for (const auto &[name, value] : attributes) {
		if (text.size() > 1)
			text += ", ";
		text += Escape(name, 64) + "=" + Escape(value, 128);
	}
	return text + "}";
}

/** @return "25 s" or "1500 ms" */
std::string DescribeTimeout(std::chrono::milliseconds timeout)
{
	if (timeout.count() % 1000 == 0)
		return std::to_string(timeout.count() / 1000) + " s";
	return std::to_string(timeout.count()) + " ms";
}

/**
 * A schema that accepts exactly these attribute names, as strings. libsecret checks
 * every attribute against the schema, and the attributes of `password: {secret: ...}`
 * are the user's, so the schema is made for each call.
 */
SchemaPtr SchemaFor(const Attributes &attributes)
{
	HashTablePtr types(g_hash_table_new(g_str_hash, g_str_equal));
	for (const auto &[name, value] : attributes)
		g_hash_table_insert(types.get(), const_cast<char *>(name.c_str()),
				    GINT_TO_POINTER(SECRET_SCHEMA_ATTRIBUTE_STRING));
	return SchemaPtr(
	    secret_schema_newv(schema_name, SECRET_SCHEMA_DONT_MATCH_NAME, types.get()));
}

/** @return the attributes as libsecret takes them; the strings stay @p attributes' */
HashTablePtr TableFor(const Attributes &attributes)
{
	HashTablePtr table(g_hash_table_new(g_str_hash, g_str_equal));
	for (const auto &[name, value] : attributes)
		g_hash_table_insert(table.get(), const_cast<char *>(name.c_str()),
				    const_cast<char *>(value.c_str()));
	return table;
}

/**
 * One asynchronous libsecret call run to completion on a main context of its own,
 * cancelled when the timeout fires. libsecret's *_sync functions do the same minus
 * the timeout: its D-Bus calls wait 25 s and its prompts forever.
 */
class Call {
public:
	explicit Call(std::chrono::milliseconds timeout)
	    : context_(g_main_context_new()), cancellable_(g_cancellable_new()),
	      timer_(g_timeout_source_new(static_cast<guint>(timeout.count())))
	{
		g_main_context_push_thread_default(context_);
		g_source_set_callback(timer_, OnTimeout, this, nullptr);
		g_source_attach(timer_, context_);
	}
	~Call()
	{
		g_source_destroy(timer_);
		g_source_unref(timer_);
		if (result_ != nullptr)
			g_object_unref(result_);
		// GIO finishes some work of a call (a failed connection's cleanup, for
		// one) in idle sources on this context; left undispatched, they leak
		// when the context goes (LeakSanitizer showed it).
		while (g_main_context_iteration(context_, FALSE)) {
		}
		g_object_unref(cancellable_);
		g_main_context_pop_thread_default(context_);
		g_main_context_unref(context_);
	}
	Call(const Call &) = delete;
	Call &operator=(const Call &) = delete;

	GCancellable *Cancellable() const noexcept { return cancellable_; }

	/** The GAsyncReadyCallback; user data is the Call. */
	static void OnReady(GObject *, GAsyncResult *result, gpointer self) noexcept
	{
		static_cast<Call *>(self)->result_ = G_ASYNC_RESULT(g_object_ref(result));
	}

	/** Runs the context until the call has finished (cancelled or not). */
	GAsyncResult *Wait()
	{
		while (result_ == nullptr)
			g_main_context_iteration(context_, TRUE);
		return result_;
	}

	bool TimedOut() const noexcept { return timed_out_; }

private:
	static gboolean OnTimeout(gpointer self) noexcept
	{
		auto &call = *static_cast<Call *>(self);
		call.timed_out_ = true;
		g_cancellable_cancel(call.cancellable_);
		return G_SOURCE_REMOVE;
	}

	GMainContext *context_;
	GCancellable *cancellable_;
	GSource *timer_;
	GAsyncResult *result_ = nullptr;
	bool timed_out_ = false;
};

/**
 * Drops libsecret's cached SecretService proxy (secret_service_disconnect()) when a
 * call ends. The proxy follows its service's restarts only through signals, which
 * arrive on the main context it was made on: a Call's, gone by then. Kept, it would
 * send the next call to a gnome-keyring that has exited (":1.1 was not provided by
 * any .service files") and with a session the new one never opened ("The session
 * wrapping the secret does not exist"). A fresh proxy and session per call cost a
 * few round trips, for calls made once per token refresh.
 */
struct DropCachedService {
	DropCachedService() = default;
	~DropCachedService() { secret_service_disconnect(); }
	DropCachedService(const DropCachedService &) = delete;
	DropCachedService &operator=(const DropCachedService &) = delete;
};

/** Refuses a call that cannot reach any Secret Service before libsecret tries (GDBus
 * would fall back to X11 autolaunch), and one without attributes (which would match
 * every item). */
void CheckCall(const char *what, const Attributes &attributes)
{
	if (attributes.empty())
		throw SecretError(std::string("cannot ") + what +
				  " a secret without attributes to find it by");
	if (const auto missing = MissingSessionBus(); !missing.empty())
		throw SecretError(std::string("cannot ") + what + " the secret " +
				  Describe(attributes) + ": " + missing +
				  ", so no Secret Service");
}

[[noreturn]] void Fail(const char *what, const Attributes &attributes,
		       const GError *error, const Call &call,
		       std::chrono::milliseconds timeout)
{
	std::string why;
	if (call.TimedOut() && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		why = "the Secret Service did not answer within " +
		      DescribeTimeout(timeout) +
		      " (is the keyring locked, waiting for its password?)";
	} else if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
		   g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)) {
		// GDBus maps org.freedesktop.DBus.Error.ServiceUnknown to this code.
		why = "no Secret Service on the session bus (nothing provides "
		      "org.freedesktop.secrets)";
	} else {
		why = "the Secret Service: " + Escape(error->message, 300);
	}
	throw SecretError(std::string("cannot ") + what + " the secret " +
			  Describe(attributes) + ": " + why);
}

/** Reads an a{sv} of the properties Label (s) and Locked (b). */
bool ReadCollectionProperties(sd_bus_message *m, SecretServiceProbe &probe)
{
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return false;
	int r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *name = nullptr;
		if (sd_bus_message_read(m, "s", &name) < 0)
			return false;
		const std::string_view key(name);
		if (key == "Label") {
			const char *label = nullptr;
			if (sd_bus_message_read(m, "v", "s", &label) < 0)
				return false;
			probe.collection_label = Escape(label, 100);
		} else if (key == "Locked") {
			int locked = 0;
			if (sd_bus_message_read(m, "v", "b", &locked) < 0)
				return false;
			probe.locked = locked != 0;
		} else if (sd_bus_message_skip(m, "v") < 0) {
			return false;
		}
		if (sd_bus_message_exit_container(m) < 0)
			return false;
	}
	return r >= 0 && sd_bus_message_exit_container(m) >= 0;
}

} // namespace

std::optional<std::string> LookupSecret(const Attributes &attributes,
					std::chrono::milliseconds timeout)
{
	CheckCall("look up", attributes);
	const auto schema = SchemaFor(attributes);
	const auto table = TableFor(attributes);
	const DropCachedService drop;
	Call call(timeout);
	// A search rather than secret_password_lookup(), which answers "not found" for
	// an item in a keyring it could not unlock: a locked keyring is not a missing
	// token (that would send the user to log in again for nothing). Without
	// SECRET_SEARCH_ALL it returns the first match, an unlocked one if any, after
	// trying to unlock it.
	secret_service_search(nullptr, schema.get(), table.get(),
			      static_cast<SecretSearchFlags>(SECRET_SEARCH_UNLOCK |
							     SECRET_SEARCH_LOAD_SECRETS),
			      call.Cancellable(), Call::OnReady, &call);
	GError *raw = nullptr;
	GList *items = secret_service_search_finish(nullptr, call.Wait(), &raw);
	const ErrorPtr error(raw);
	const std::unique_ptr<GList, void (*)(GList *)> owned_items(
	    items, [](GList *list) { g_list_free_full(list, g_object_unref); });
	if (error)
		Fail("look up", attributes, error.get(), call, timeout);
	if (items == nullptr)
		return std::nullopt;
	auto *item = static_cast<SecretItem *>(items->data);
	if (secret_item_get_locked(item) != FALSE)
		throw SecretError(
		    "cannot look up the secret " + Describe(attributes) +
		    ": it is in a locked keyring that the Secret Service "
		    "could not unlock (unlock it, e.g. by logging in to the "
		    "desktop)");
	const ValuePtr value(secret_item_get_secret(item));
	if (!value)
		throw SecretError("cannot look up the secret " + Describe(attributes) +
				  ": the Secret Service did not hand it over");
	gsize length = 0;
	const gchar *bytes = secret_value_get(value.get(), &length);
	return std::string(bytes, length);
}

void StoreSecret(std::string_view label, const Attributes &attributes,
		 std::string_view secret, std::chrono::milliseconds timeout)
{
	CheckCall("store", attributes);
	const auto schema = SchemaFor(attributes);
	const auto table = TableFor(attributes);
	// Binary, so that a secret with a NUL byte is stored whole; libsecret copies it
	// into its non-pageable memory.
	const ValuePtr value(secret_value_new(
	    secret.data(), static_cast<gssize>(secret.size()), "text/plain"));
	const std::string label_text(label);
	const DropCachedService drop;
	Call call(timeout);
	secret_password_storev_binary(
	    schema.get(), table.get(), SECRET_COLLECTION_DEFAULT, label_text.c_str(),
	    value.get(), call.Cancellable(), Call::OnReady, &call);
	GError *raw = nullptr;
	const gboolean stored = secret_password_store_finish(call.Wait(), &raw);
	const ErrorPtr error(raw);
	if (error)
		Fail("store", attributes, error.get(), call, timeout);
	if (stored == FALSE)
		throw SecretError("cannot store the secret " + Describe(attributes) +
				  ": the Secret Service refused it");
}

bool ClearSecret(const Attributes &attributes, std::chrono::milliseconds timeout)
{
	CheckCall("clear", attributes);
	const auto schema = SchemaFor(attributes);
	const auto table = TableFor(attributes);
	const DropCachedService drop;
	Call call(timeout);
	secret_password_clearv(schema.get(), table.get(), call.Cancellable(),
			       Call::OnReady, &call);
	GError *raw = nullptr;
	const gboolean cleared = secret_password_clear_finish(call.Wait(), &raw);
	const ErrorPtr error(raw);
	if (error)
		Fail("clear", attributes, error.get(), call, timeout);
	return cleared != FALSE;
}

SecretServiceProbe ProbeSecretService(std::chrono::milliseconds timeout)
{
	using State = SecretServiceProbe::State;
	SecretServiceProbe probe;
	const auto deadline = Clock::now() + timeout;
	BusPtr bus;
	try {
		bus = OpenSessionBus(deadline);
	} catch (const BusError &e) {
		probe.state = State::NoBus;
		probe.detail = e.what();
		return probe;
	}

	probe.state = State::NoService;
	const auto describe = [&](const BusError &e) {
		if (e.timed_out)
			return "the Secret Service did not answer within " +
			       DescribeTimeout(timeout);
		if (e.name == SD_BUS_ERROR_SERVICE_UNKNOWN ||
		    e.name == SD_BUS_ERROR_NAME_HAS_NO_OWNER)
			return std::string(
			    "no Secret Service on the session bus (nothing "
			    "provides org.freedesktop.secrets)");
		return "the Secret Service: " + Escape(e.what(), 300);
	};

	sd_bus_message *raw = nullptr;
	std::string path;
	try {
		// ReadAlias, not a property: it is what libsecret resolves
		// SECRET_COLLECTION_DEFAULT with, and "/" means there is none.
		if (sd_bus_message_new_method_call(
			bus.get(), &raw, "org.freedesktop.secrets",
			"/org/freedesktop/secrets", "org.freedesktop.Secret.Service",
			"ReadAlias") < 0)
			throw BusError("cannot build a D-Bus call");
		const MessagePtr call(raw);
		if (sd_bus_message_append(call.get(), "s", "default") < 0)
			throw BusError("cannot build a D-Bus call");
		const auto reply = CallMethod(bus.get(), call.get(), deadline);
		const char *object = nullptr;
		if (sd_bus_message_read(reply.get(), "o", &object) < 0)
			throw BusError("ReadAlias answered something other than a path");
		path = object;
	} catch (const BusError &e) {
		probe.detail = describe(e);
		return probe;
	}
	if (path == "/") {
		probe.state = State::NoDefaultCollection;
		probe.detail = "the Secret Service has no default keyring, and creating "
			       "one would need a password prompt";
		return probe;
	}

	try {
		raw = nullptr;
		if (sd_bus_message_new_method_call(
			bus.get(), &raw, "org.freedesktop.secrets", path.c_str(),
			"org.freedesktop.DBus.Properties", "GetAll") < 0)
			throw BusError("cannot build a D-Bus call");
		const MessagePtr call(raw);
		if (sd_bus_message_append(call.get(), "s",
					  "org.freedesktop.Secret.Collection") < 0)
			throw BusError("cannot build a D-Bus call");
		const auto reply = CallMethod(bus.get(), call.get(), deadline);
		if (!ReadCollectionProperties(reply.get(), probe))
			throw BusError("the default keyring's properties are not a{sv}");
	} catch (const BusError &e) {
		probe.detail = describe(e);
		return probe;
	}
	probe.state = State::Ready;
	return probe;
}

} // namespace popstream::secret
