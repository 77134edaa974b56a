#include "HandOffQueue.hxx"

#include <unistd.h>

namespace popstream::store {

HandOffQueue::HandOffQueue(HandOff run, std::function<void()> wake)
    : run_(std::move(run)), wake_(std::move(wake))
{
}

HandOffQueue::~HandOffQueue()
{
	Stop();
}

namespace {

void CloseFd(int &fd) noexcept
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

} // namespace

std::shared_ptr<const HandOffQueue::Job> HandOffQueue::Push(HandOffMessage message)
{
	std::shared_ptr<Job> job;
	try {
		job = std::make_shared<Job>();
	} catch (...) {
		CloseFd(message.fd);
		throw;
	}
	job->message_ = std::move(message);
	{
		std::lock_guard lock(mutex_);
		if (stopping_) {
			job->result_.why = "popstream is stopping";
			job->done_.store(true, std::memory_order_release);
			return job;
		}
		jobs_.push_back(job);
	}
	if (!thread_.joinable()) {
		try {
			thread_ = std::thread([this] { Run(); });
		} catch (...) {
			std::lock_guard lock(mutex_);
			jobs_.pop_back();
			CloseFd(job->message_.fd);
			throw;
		}
	}
	queued_.notify_one();
	return job;
}

void HandOffQueue::Collected() noexcept
{
	{
		std::lock_guard lock(mutex_);
		uncollected_ = false;
	}
	queued_.notify_one();
}

void HandOffQueue::Stop() noexcept
{
	{
		std::lock_guard lock(mutex_);
		stopping_ = true;
		for (auto &job : jobs_) {
			job->result_.why = "not handed over: popstream is stopping";
			CloseFd(job->message_.fd);
			job->done_.store(true, std::memory_order_release);
		}
		jobs_.clear();
	}
	queued_.notify_one();
	if (thread_.joinable())
		thread_.join();
}

void HandOffQueue::Run()
{
	for (;;) {
		std::shared_ptr<Job> job;
		{
			std::unique_lock lock(mutex_);
			queued_.wait(lock, [this] {
				return stopping_ || (!jobs_.empty() && !uncollected_);
			});
			if (stopping_ || jobs_.empty())
				return; // stopping: Stop() ends what is left
			job = std::move(jobs_.front());
			jobs_.pop_front();
		}
		job->result_ = run_(job->message_);
		CloseFd(job->message_.fd);
		{
			std::lock_guard lock(mutex_);
			uncollected_ = true;
		}
		job->done_.store(true, std::memory_order_release);
		if (wake_)
			wake_();
	}
}

} // namespace popstream::store
