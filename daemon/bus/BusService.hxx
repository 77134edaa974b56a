#pragma once

#include "AccountStatus.hxx"
#include "Api.hxx"
#include "Controller.hxx"

#include <systemd/sd-bus.h>
#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace popstream::bus {

/** RequestName() failed because another connection owns the name (a second popstreamd).
 */
class NameTakenError : public std::runtime_error {
public:
	using std::runtime_error::runtime_error;
};

/**
 * Exports popstreamd on D-Bus (io.github.popstream.Popstream1.xml):
 *
 * - an ObjectManager and the Manager object at manager_path: FetchAll(), Reload(),
 *   properties Version (s, const) and State (u, ManagerState);
 * - one Account object per account at AccountPath(name): FetchNow(), properties Name,
 *   State, LastAttempt, LastSuccess, NextPoll, LastError, MessagesFetched,
 *   BytesFetched, Progress, and the signal FetchFinished(t messages, t bytes, s error).
 *
 * It keeps its own copy of every account's status, fed by AccountAdded(),
 * AccountChanged() and AccountRemoved(), and answers property reads from it; so a
 * client never sees a value that was not (or will not be) announced by
 * PropertiesChanged, and the exported objects always match the InterfacesAdded /
 * InterfacesRemoved signals sent. Methods go to the Controller.
 *
 * Calls to an account path with no account behind it get UnknownAccount ("no account
 * named 'x'; accounts: a, b") instead of sd-bus's generic UnknownObject.
 *
 * Every method must be called from the loop thread.
 */
class BusService {
public:
	/** Longest time Progress goes unannounced while it keeps changing, in ms. */
	static constexpr std::uint64_t progress_interval_ms = 1000;

	/**
	 * @param loop runs the Progress throttle timer; must outlive this object
	 * @param controller handles the methods; must outlive this object
	 * @param version the Version property (POPSTREAM_VERSION)
	 */
	BusService(uv_loop_t &loop, Controller &controller, std::string version);

	/** Unregisters every object (if Start() was called) and drops the bus
	 * reference. The bus name, if owned, is released when the connection closes. */
	~BusService();

	BusService(const BusService &) = delete;
	BusService &operator=(const BusService &) = delete;

	/**
	 * Registers the ObjectManager, the Manager and the account objects on @p bus,
	 * and adds every account of Controller::Statuses() not announced yet. Does not
	 * request the bus name, so the daemon can finish setting up first.
	 *
	 * @param bus a connection driven by an SdBusUv; a reference is kept
	 * @throws std::system_error if sd-bus refuses a registration (only on a
	 *         programming error or out of memory)
	 */
	void Start(sd_bus *bus);

	/**
	 * Takes the well-known name bus_name, without queueing and without replacing
	 * another owner; blocks until the bus daemon answers (start-up only). Call it
	 * once everything is exported, then send READY=1.
	 *
	 * @throws NameTakenError if another connection owns the name (a second
	 *         popstreamd for the same user)
	 * @throws std::system_error for any other failure (bus gone, policy denies)
	 */
	void RequestName();

	/**
	 * An account appeared (start-up or reload): exports its object and emits
	 * InterfacesAdded with every property. For a name already exported it acts as
	 * AccountChanged().
	 */
	void AccountAdded(const AccountStatus &status) noexcept;

	/** An account was removed by a reload: emits InterfacesRemoved and unexports it.
	 * Unknown names are ignored. */
	void AccountRemoved(const std::string &name) noexcept;

	/**
	 * Fields of an account changed: emits one PropertiesChanged naming every
	 * property whose value differs from what was last announced. @p what (the
	 * service::Changed bits) is only a hint: comparing the values means a repeated
	 * notification emits nothing and a forgotten bit loses nothing.
	 *
	 * Progress alone is announced at most once per progress_interval_ms per
	 * account: a newer value inside the interval is held back and sent when it
	 * ends (so the last value always goes out), or earlier together with any other
	 * change of that account. Get() always returns the newest value.
	 *
	 * An unknown name is treated as AccountAdded().
	 */
	void AccountChanged(const AccountStatus &status, unsigned what) noexcept;

	/**
	 * A fetch of @p name ended: announces any held-back Progress, then emits
	 * FetchFinished(messages, bytes, error) on the account's object. Ignored for an
	 * unknown account.
	 *
	 * @param messages messages saved by this fetch
	 * @param bytes octets saved by this fetch
	 * @param error one line; empty on success
	 */
	void FetchFinished(const std::string &name, std::uint64_t messages,
			   std::uint64_t bytes, const std::string &error) noexcept;

	/** Sets the Manager's State property, emitting PropertiesChanged if it differs.
	 */
	void SetManagerState(ManagerState state) noexcept;

	/**
	 * A reload ended (Manager.Reload(), or SIGHUP): the Manager's LastReload (µs
	 * since the epoch) and LastReloadError (its problems, one per line; empty when
	 * it was applied) change, so that `popstream status` can say a reload was
	 * refused and why, long after whoever asked for it has gone.
	 * @param problems Controller::Reload()'s answer
	 */
	void ReloadFinished(const std::string &problems, std::uint64_t now_us) noexcept;

	/** @return the Manager's State property */
	ManagerState GetManagerState() const noexcept { return manager_state_; }

private:
	struct Callbacks;

	/** One exported account. */
	struct Account {
		BusService *service = nullptr;
		AccountStatus status;
		std::string path;
		/** Progress as last announced (or as of the export, announced with
		 * InterfacesAdded). */
		Progress progress_sent;
		/** uv_now() from which Progress may go out on its own again; 0 at
		 * first, so the first change of a fetch is announced at once. */
		std::uint64_t progress_next_ms = 0;
		/** status.progress differs from progress_sent and waits for the timer. */
		bool progress_held = false;
	};

	struct SlotUnref {
		void operator()(sd_bus_slot *slot) const noexcept
		{
			sd_bus_slot_unref(slot);
		}
	};
	using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

	uv_loop_t &loop_;
	Controller &controller_;
	const std::string version_;
	ManagerState manager_state_ = ManagerState::Starting;
	std::uint64_t last_reload_us_ = 0;
	std::string last_reload_error_;
	sd_bus *bus_ = nullptr;
	std::vector<SlotPtr> slots_;
	/** Keyed by account name; std::map so that pointers handed to sd-bus as
	 * userdata stay valid while other accounts come and go. */
	std::map<std::string, Account> accounts_;
	/** Fires when the earliest held-back Progress is due; heap-allocated because
	 * libuv frees it after ~BusService(). */
	uv_timer_t *progress_timer_;

	/** @return a new, not yet exported, entry for @p status */
	Account NewAccount(const AccountStatus &status);
	/** @return the account whose object path is exactly @p path, or nullptr */
	Account *FindByPath(const char *path) noexcept;
	/** Emits PropertiesChanged for @p names (empty: nothing) on @p account. */
	void EmitAccountProperties(Account &account,
				   std::vector<const char *> names) noexcept;
	/** Adds "Progress" to @p names if the account's progress is held back. */
	void ReleaseProgress(Account &account, std::vector<const char *> &names) noexcept;
	/** Arms progress_timer_ for the earliest held-back Progress, or stops it. */
	void RearmProgressTimer() noexcept;
	void OnProgressTimer() noexcept;
	/** @return what follows "no account named 'X'" (UnknownNameHint()): the accounts,
	 * or the nearest few of thousands */
	std::string UnknownAccountHint(const std::string &wanted) const;
};

} // namespace popstream::bus
