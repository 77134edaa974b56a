#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace popstream::test {

/** Sets or unsets an environment variable for one scope, then puts the old value back.
 * Not thread-safe (setenv(3)): for tests that run one thread. */
class ScopedEnv {
	std::string name_;
	std::optional<std::string> old_;

public:
	/** @param name the variable
	 * @param value the new value, or nullptr to unset it */
	ScopedEnv(const char *name, const char *value) : name_(name)
	{
		if (const char *old = std::getenv(name))
			old_ = old;
		if (value != nullptr)
			setenv(name, value, 1);
		else
			unsetenv(name);
	}
	~ScopedEnv()
	{
		if (old_)
			setenv(name_.c_str(), old_->c_str(), 1);
		else
			unsetenv(name_.c_str());
	}
	ScopedEnv(const ScopedEnv &) = delete;
	ScopedEnv &operator=(const ScopedEnv &) = delete;
};

} // namespace popstream::test
