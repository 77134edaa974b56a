#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace popstream::store {

/** What an MDA did with one message (a HandOff's result). */
struct HandOffResult {
	/** It exited 0 having read the whole message: delivered, the MDA answers for
	 * it now. */
	bool delivered = false;
	/** No other message can be handed off either (the MDA cannot be run). */
	bool every_save = false;
	/** The MDA asked to be tried again later (exit 75, EX_TEMPFAIL). */
	bool deferred = false;
	/** Not delivered: one line saying why (its exit status, its output). */
	std::string why;
};

/** One message for a HandOff. */
struct HandOffMessage {
	/** The staged file, open for reading at offset 0. */
	int fd = -1;
	/** Its length in bytes. */
	std::uint64_t size = 0;
	/** Its size in the listing (octets), for the journal. */
	std::uint64_t listed = 0;
	/** Its unique-id (RFC 1939 §7), or empty: for a record of its own that lets a
	 * killed run tell later whether it arrived (the mbox's). */
	std::string uidl;
	/** The staged file's path, which stays until the hand-off is collected (and
	 * after a kill): to rebuild what a killed append was writing. */
	std::string name;
};

/**
 * Hands one message, proven whole, over (to an MDA, or appends it to an mbox) and
 * waits until that is over. Runs on HandOffQueue's thread, never on the loop. Must
 * not throw.
 */
using HandOff = std::function<HandOffResult(const HandOffMessage &message)>;

/**
 * Runs hand-offs one at a time, in the order they were pushed, on a thread of its
 * own: an MDA (a spam filter, procmail's recipes) may take seconds per message, and
 * the loop thread must go on serving the connection, D-Bus and the other accounts
 * meanwhile. One at a time keeps the mailbox in the server's order, as fetchmail and
 * getmail deliver.
 *
 * A job starts only once the result of the one before it is on record (Collected()):
 * an MDA that has taken a message cannot be made to give it back, so the journal must
 * know of every delivery before the next MDA runs, or a kill -9 would deliver a whole
 * backlog twice instead of at most the one message an MDA holds.
 *
 * The thread starts with the first Push(). Call from one thread (the loop's).
 */
class HandOffQueue {
public:
	/** One message's hand-off: its result, once Done(). */
	class Job {
	public:
		/** @return whether the hand-off is over (then Result() is final);
		 * may be called from any thread */
		bool Done() const noexcept
		{
			return done_.load(std::memory_order_acquire);
		}
		/** Valid once Done(). */
		const HandOffResult &Result() const noexcept { return result_; }

	private:
		friend class HandOffQueue;
		HandOffMessage message_;
		HandOffResult result_;
		std::atomic<bool> done_{false};
	};

	/**
	 * @param run does the hand-off (e.g. runs the MDA)
	 * @param wake called on the queue's thread after each job is done (it may
	 *        only do what is safe from another thread, e.g. uv_async_send());
	 *        may be empty
	 */
	HandOffQueue(HandOff run, std::function<void()> wake);
	/** Stop(), then joins the thread. */
	~HandOffQueue();
	HandOffQueue(const HandOffQueue &) = delete;
	HandOffQueue &operator=(const HandOffQueue &) = delete;

	/** Queues a hand-off of @p message (the queue owns its fd from now on, even
	 * if this throws, and closes it when done). @throws std::system_error if the
	 * thread cannot be started */
	std::shared_ptr<const Job> Push(HandOffMessage message);

	/** The result of the last job done is on record (journaled and synced): the
	 * next job may start. */
	void Collected() noexcept;

	/**
	 * Starts nothing more and waits for the running hand-off, if any, to end: a
	 * message the MDA is reading is neither abandoned nor given twice. Jobs not
	 * started yet end not delivered. Blocks; afterwards every job is Done().
	 */
	void Stop() noexcept;

private:
	void Run();

	HandOff run_;
	std::function<void()> wake_;
	std::mutex mutex_;
	std::condition_variable queued_;
	std::deque<std::shared_ptr<Job>> jobs_;
	bool stopping_ = false;
	/** A job is done whose result is not on record yet: none starts meanwhile. */
	bool uncollected_ = false;
	std::thread thread_;
};

} // namespace popstream::store
