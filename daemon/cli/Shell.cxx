#include "Commands.hxx"

#include "core/util/Escape.hxx"

#include <editline/readline.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace popstream::cli {

std::vector<std::string> SplitWords(const std::string &line)
{
	std::vector<std::string> words;
	std::string word;
	bool in_word = false;
	char quote = 0;
	for (std::size_t i = 0; i < line.size(); ++i) {
		const char c = line[i];
		if (quote != 0) {
			if (c == quote)
				quote = 0;
			else if (c == '\\' && quote == '"' && i + 1 < line.size())
				word.push_back(line[++i]);
			else
				word.push_back(c);
		} else if (c == '\'' || c == '"') {
			quote = c;
			in_word = true;
		} else if (c == '\\' && i + 1 < line.size()) {
			word.push_back(line[++i]);
			in_word = true;
		} else if (c == ' ' || c == '\t') {
			if (in_word)
				words.push_back(std::move(word));
			word.clear();
			in_word = false;
		} else {
			word.push_back(c);
			in_word = true;
		}
	}
	if (quote != 0)
		throw std::invalid_argument(std::string("unclosed ") + quote + " quote");
	if (in_word)
		words.push_back(std::move(word));
	return words;
}

namespace {

/** $XDG_STATE_HOME/popstream/history (or ~/.local/state/...), created 0700. */
std::string HistoryPath()
{
	std::string base;
	if (const char *s = std::getenv("XDG_STATE_HOME"); s != nullptr && *s == '/')
		base = s;
	else if (const char *home = std::getenv("HOME"); home != nullptr && *home != '\0')
		base = std::string(home) + "/.local/state";
	else
		return {};
	std::string dir;
	for (const auto &part : {base, base + "/popstream"}) {
		mkdir(part.c_str(), 0700);
		dir = part;
	}
	return dir + "/history";
}

} // namespace

int RunShell(const std::string &program)
{
	const bool interactive = isatty(STDIN_FILENO) != 0;
	const std::string history = interactive ? HistoryPath() : std::string();
	if (!history.empty()) {
		using_history();
		read_history(history.c_str());
	}
	if (interactive)
		std::cout << program
			  << " shell: type 'help' for the subcommands, 'exit' to leave\n";

	int status = 0;
	const std::string prompt = program + "> ";
	for (;;) {
		std::string line;
		if (interactive) {
			char *raw = readline(prompt.c_str());
			if (raw == nullptr) {
				std::cout << "\n";
				break;
			}
			line = raw;
			std::free(raw);
		} else if (!std::getline(std::cin, line)) {
			break;
		}
		std::vector<std::string> words;
		try {
			words = SplitWords(line);
		} catch (const std::invalid_argument &e) {
			std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
			status = 64;
			continue;
		}
		if (words.empty())
			continue;
		if (!history.empty()) {
			add_history(line.c_str());
			write_history(history.c_str());
		}
		if (words.front() == "exit" || words.front() == "quit")
			break;
		status = RunCommand(words, program, true);
		if (interactive && status != 0)
			std::cout << "(exit status " << status << ")\n";
	}
	return interactive ? 0 : status;
}

} // namespace popstream::cli
