// popstream: the command-line entry point. Also installed as `pop3`, the name cs.pop3
// users type.
#include "Commands.hxx"

#include <csignal>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv)
{
	// A closed pipe (`popstream dl -v ... | head`) or a server that resets must end
	// in an error that the fetch handles (EPIPE), not kill it mid-session.
	std::signal(SIGPIPE, SIG_IGN);
	std::string program = argc > 0 ? argv[0] : "popstream";
	if (const auto slash = program.rfind('/'); slash != std::string::npos)
		program.erase(0, slash + 1);
	std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
	return popstream::cli::RunCommand(args, program);
}
