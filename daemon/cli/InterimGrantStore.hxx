#pragma once

#include "oauth/GrantStore.hxx"

#include <memory>

namespace popstream::cli {

/**
 * A stand-in until daemon/secret (issue 12, helper B) is merged: the brief's file
 * fallback alone, $XDG_STATE_HOME/popstream/oauth/KEY.json (default ~/.local/state),
 * directory 0700, file 0600, written atomically (temp file, fsync, rename, fsync of
 * the directory). At the merge, `oauth` opens secret::OpenTokenStore() through an
 * adapter instead, and this file goes.
 *
 * @return the store; it touches nothing until used
 */
std::unique_ptr<oauth::GrantStore> OpenInterimGrantStore();

} // namespace popstream::cli
