#include "FileSync.hxx"

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

namespace popstream::store {

struct FileSync::Job {
	int fd;
	bool done = false;
	int error = 0;
};

namespace {

int FsyncErrno(int fd) noexcept
{
	return fsync(fd) == 0 ? 0 : errno;
}

/** The process's workers: a queue of jobs under one mutex. */
class Workers {
public:
	Workers() : owner_(getpid())
	{
		for (unsigned i = 0; i < FileSync::sync_threads; ++i)
			threads_.emplace_back([this] { Run(); });
	}

	Workers(const Workers &) = delete;
	Workers &operator=(const Workers &) = delete;

	/** @return whether this process owns the threads (not a forked child) */
	bool Ours() const noexcept { return getpid() == owner_; }

	void Push(std::shared_ptr<FileSync::Job> job)
	{
		{
			std::lock_guard lock(mutex_);
			jobs_.push_back(std::move(job));
		}
		queued_.notify_one();
	}

	/** @return the job's result, once it has one */
	int Wait(FileSync::Job &job)
	{
		std::unique_lock lock(mutex_);
		finished_.wait(lock, [&job] { return job.done; });
		return job.error;
	}

private:
	void Run()
	{
		std::unique_lock lock(mutex_);
		for (;;) {
			queued_.wait(lock, [this] { return !jobs_.empty(); });
			auto job = std::move(jobs_.front());
			jobs_.pop_front();
			lock.unlock();
			const int error = FsyncErrno(job->fd);
			lock.lock();
			job->error = error;
			job->done = true;
			finished_.notify_all();
		}
	}

	const pid_t owner_;
	std::mutex mutex_;
	std::condition_variable queued_;
	std::condition_variable finished_;
	std::deque<std::shared_ptr<FileSync::Job>> jobs_;
	std::vector<std::thread> threads_;
};

Workers &TheWorkers()
{
	// Never destroyed: the threads may sit in a fsync nobody waits for any more
	// at exit, and a forked child that exits must not join its parent's threads.
	static Workers *const workers = new Workers;
	return *workers;
}

} // namespace

FileSync::FileSync(int fd) : job_(std::make_shared<Job>())
{
	job_->fd = fd;
	if (!TheWorkers().Ours()) {
		job_->error = FsyncErrno(fd);
		job_->done = true;
		return;
	}
	TheWorkers().Push(job_);
}

FileSync::~FileSync()
{
	Wait();
}

int FileSync::Wait() noexcept
{
	auto &workers = TheWorkers();
	if (workers.Ours())
		return workers.Wait(*job_);
	// A forked child: the parent's workers are not here, and their mutex may
	// have been copied locked. Its own fsync of the same file stands in.
	if (!job_->done) {
		job_->error = FsyncErrno(job_->fd);
		job_->done = true;
	}
	return job_->error;
}

} // namespace popstream::store
