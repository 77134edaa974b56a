#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

/**
 * GNOME Online Accounts (GOA) as a source of OAuth 2.0 access tokens: a desktop user
 * who added a Microsoft or Google account in Settings needs no client id or login of
 * popstream's (`oauth: {provider: goa, account: ID}`). GOA keeps and refreshes the
 * tokens; popstream asks it for one before each login that needs it, over the session
 * bus (org.gnome.OnlineAccounts, see goa-daemon's
 * org.gnome.OnlineAccounts.xml).
 */
namespace popstream::secret {

/** An access token from GOA. A secret: never log it. */
struct GoaToken {
	/** The bearer token for XOAUTH2 / OAUTHBEARER. */
	std::string access_token;
	/** Seconds until it expires, as GOA reported them; 0 if GOA does not know. */
	std::chrono::seconds expires_in{0};
};

/** Why GoaAccessToken() failed; what() is one line and holds no token. */
class GoaError : public std::runtime_error {
public:
	/** What went wrong, for callers that react differently. */
	enum class Kind {
		/** No session bus, GOA not on it, or it did not answer in time. */
		NoService,
		/** GOA has no account with that id. */
		NoAccount,
		/** The account exists but hands out no OAuth 2.0 token (no
		 * org.gnome.OnlineAccounts.OAuth2Based; a password account, say). */
		NotOAuth2,
		/** GOA refused: the account needs the user to sign in again in Settings
		 * (org.gnome.OnlineAccounts.Error.NotAuthorized, or AttentionNeeded). */
		NeedsAttention,
		/** Any other failure of GOA's, with its text. */
		Failed,
	};

	GoaError(Kind _kind, const std::string &message)
	    : std::runtime_error(message), kind(_kind)
	{
	}

	Kind kind;
};

/**
 * Asks GOA for an access token of one account: finds the object under
 * /org/gnome/OnlineAccounts (ObjectManager.GetManagedObjects) whose
 * org.gnome.OnlineAccounts.Account property Id is @p account_id, then calls its
 * org.gnome.OnlineAccounts.OAuth2Based.GetAccessToken, which returns (s access_token,
 * i expires_in) and refreshes the token first if it has to.
 *
 * @param account_id the Id property, as in /org/gnome/OnlineAccounts/Accounts/ID
 *        ("account_1700000000_0"); `busctl --user tree org.gnome.OnlineAccounts`
 *        lists them
 * @param timeout the longest the whole exchange may take
 * @return the token
 * @throws GoaError naming what failed: no GOA on the bus; no such account (with the
 *         ids, providers and identities of those GOA has, none of their tokens); an
 *         account without OAuth2Based; GOA's own error text, with the hint to sign in
 *         again in Settings when the account needs attention
 */
GoaToken GoaAccessToken(std::string_view account_id,
			std::chrono::milliseconds timeout = std::chrono::seconds(25));

} // namespace popstream::secret
