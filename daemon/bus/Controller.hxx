#pragma once

#include "AccountStatus.hxx"

#include <string>
#include <vector>

namespace popstream::bus {

/**
 * What BusService asks of the daemon when a D-Bus method is called. popstreamd
 * implements it over the Scheduler and the config loader; the tests implement it with
 * a fake. Every call comes from the loop thread, inside sd_bus_process(), and must not
 * block: the D-Bus reply is sent when the call returns.
 */
class Controller {
public:
	virtual ~Controller() = default;

	/**
	 * @return the status of every account, in config order. Read once by
	 *         BusService::Start(), so accounts added before the bus was set up are
	 *         exported too; later changes arrive through BusService::AccountAdded()
	 *         and friends.
	 */
	virtual std::vector<AccountStatus> Statuses() const = 0;

	/**
	 * Account.FetchNow(): queues a fetch of @p name, merged with one already queued
	 * or running. Every successful call must be followed, sooner or later, by a
	 * BusService::FetchFinished() for that account: `popstream fetch --wait`
	 * waits for it. Never called for an account whose state is Disabled (BusService
	 * refuses those itself).
	 *
	 * @return false if there is no such account (the caller gets UnknownAccount)
	 */
	virtual bool FetchNow(const std::string &name) = 0;

	/**
	 * Manager.FetchAll(): FetchNow() for every account that is not Disabled
	 * (including those in backoff or waiting for a new password), each followed by
	 * a FetchFinished(). `popstream fetch --wait` without accounts waits for every
	 * account that was not Disabled when it called.
	 */
	virtual void FetchAll() = 0;

	/**
	 * Manager.Reload(): reads the configuration again and applies it (accounts
	 * added, removed and changed are reported through BusService::AccountAdded(),
	 * AccountRemoved() and AccountChanged() before this returns). If the new
	 * configuration is invalid, nothing changes and the old one keeps running.
	 *
	 * @return empty on success, otherwise every problem found, one per line, as
	 *         "FILE:LINE:COLUMN: message"; sent to the caller as a
	 *         io.github.popstream.Popstream1.Error.InvalidConfig error
	 */
	virtual std::string Reload() = 0;
};

} // namespace popstream::bus
