#pragma once

#include "GrantStore.hxx"
#include "secret/TokenStore.hxx"

#include <memory>

namespace popstream::oauth {

/**
 * The grant store of this machine: the Secret Service when one answers on the
 * session bus with a default keyring, else a mode 0600 file per key under
 * `$XDG_STATE_HOME/popstream/oauth/` (secret::OpenTokenStore()). May block for up to
 * secret::default_probe_timeout while the Secret Service is probed.
 *
 * @param prefer Auto; or SecretService / File for `oauth login --store`
 * @return the store; GrantStore::Where() says which, for "stored in ..." messages
 * @throws std::runtime_error (one line) if the preferred store cannot be used
 */
std::unique_ptr<GrantStore>
OpenGrantStore(secret::StorePreference prefer = secret::StorePreference::Auto);

/**
 * @param store a secret::TokenStore
 * @return @p store behind the GrantStore interface
 */
std::unique_ptr<GrantStore> AdaptTokenStore(std::unique_ptr<secret::TokenStore> store);

} // namespace popstream::oauth
