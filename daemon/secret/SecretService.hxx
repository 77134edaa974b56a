#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

/**
 * The freedesktop.org Secret Service (gnome-keyring, KeePassXC, KWallet's bridge)
 * through libsecret: secrets looked up, stored and cleared by their attributes, as
 * `secret-tool lookup|store|clear` do, so that a password the user stored with
 * secret-tool is what `password: {secret: {...}}` finds.
 *
 * Every call is bounded by a timeout (a Secret Service that never answers, or waits on
 * an unlock prompt nobody sees, must not hang the daemon), and none of them puts a
 * secret in an error message.
 */
namespace popstream::secret {

/** Attribute name → value, as `secret-tool lookup NAME VALUE...` takes them. */
using Attributes = std::map<std::string, std::string>;

/** A Secret Service call that failed; what() is one line and holds no secret. */
class SecretError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/**
 * How long a Secret Service call may take by default before it is cancelled: long
 * enough for gnome-keyring's unlock prompt to be answered on a desktop, short enough
 * that a stuck service fails the fetch rather than the daemon.
 */
inline constexpr std::chrono::milliseconds default_secret_timeout{
    std::chrono::seconds(25)};

/** How long ProbeSecretService() waits by default for the service to answer. */
inline constexpr std::chrono::milliseconds default_probe_timeout{std::chrono::seconds(5)};

/**
 * Looks a secret up by its attributes, like `secret-tool lookup`: every attribute must
 * match, items of any schema match (SECRET_SCHEMA_DONT_MATCH_NAME, since secret-tool
 * stores items without one), and a locked item is unlocked (gnome-keyring may prompt).
 *
 * @param attributes at least one name and value
 * @param timeout the longest the call may take
 * @return the secret's bytes, or nothing if no item matches
 * @throws SecretError without a session bus or Secret Service, on a D-Bus error, at
 *         the timeout ("the Secret Service did not answer within 25 s ..."), and when
 *         the item is in a keyring that stays locked (no prompt could be shown, or
 *         the user dismissed it): a token that cannot be read is not a missing one
 */
std::optional<std::string>
LookupSecret(const Attributes &attributes,
	     std::chrono::milliseconds timeout = default_secret_timeout);

/**
 * Stores a secret in the default collection (the login keyring), replacing the item
 * with the same attributes if there is one, like `secret-tool store`.
 *
 * @param label the item's label, shown by Seahorse; it is no secret
 * @param attributes at least one name and value
 * @param secret the secret, stored as text/plain
 * @param timeout the longest the call may take
 * @throws SecretError as LookupSecret() does
 */
void StoreSecret(std::string_view label, const Attributes &attributes,
		 std::string_view secret,
		 std::chrono::milliseconds timeout = default_secret_timeout);

/**
 * Deletes the items with these attributes, like `secret-tool clear`.
 *
 * @param attributes at least one name and value
 * @param timeout the longest the call may take
 * @return whether an item was deleted
 * @throws SecretError as LookupSecret() does
 */
bool ClearSecret(const Attributes &attributes,
		 std::chrono::milliseconds timeout = default_secret_timeout);

/** What ProbeSecretService() found. */
struct SecretServiceProbe {
	/** How far the probe got. */
	enum class State {
		/** There is no session bus, or it cannot be reached. */
		NoBus,
		/** Nothing owns (or can be activated as) org.freedesktop.secrets, or it
		 * did not answer in time. */
		NoService,
		/** The service answers but has no default collection (alias "default"),
		 * and creating one would prompt the user. */
		NoDefaultCollection,
		/** The service answers and has a default collection. */
		Ready,
	};
	State state = State::NoBus;
	/** Ready only: the default collection is locked, so reading or writing it may
	 * prompt for the password. */
	bool locked = false;
	/** Ready only: the default collection's label ("Login"), possibly empty. */
	std::string collection_label;
	/** Why it is not Ready, one line, for messages. */
	std::string detail;

	/** @return state == Ready */
	bool Usable() const noexcept { return state == State::Ready; }
};

/**
 * Asks the session bus whether a Secret Service answers, and which collection is its
 * default, within @p timeout. Activation is allowed (a desktop starts gnome-keyring on
 * demand). It never prompts and never throws: a machine without a Secret Service gets
 * a probe saying why.
 *
 * @param timeout the longest the whole probe may take
 */
SecretServiceProbe
ProbeSecretService(std::chrono::milliseconds timeout = default_probe_timeout);

} // namespace popstream::secret
