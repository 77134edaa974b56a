#pragma once

#include "core/pop3/Session.hxx"

#include <map>
#include <string>
#include <vector>

namespace popstream::test {

/**
 * A protocol test written as Markdown (tests/unit/core/pop3/transcripts/NN-name.md):
 * the bytes the server sends, the commands the client must send and the events it must
 * report. In the fenced blocks, a line break is only layout; bytes are spelled with
 * escapes (\r \n \t \\ \xNN), and in `events` every line is one event.
 */
struct Transcript {
	std::string name;
	/** "key=value" settings from the `config` block (user, pipelining, keep, limit,
	 * dry-run, lock-step, skip-capa, already (copies that vouch), known (unique-ids
	 * known that cannot vouch: downloaded), not-saved, eof, reset, timeout). */
	std::map<std::string, std::string> config;
	/** The greeting and then one reply per command, in order. */
	std::vector<std::string> replies;
	/** All replies, concatenated. */
	std::string server;
	std::string client;
	std::vector<std::string> events;
};

/** Parses one transcript file. @throws std::runtime_error naming the file and line */
Transcript LoadTranscript(const std::string &path);

/** Turns "\r\n\x00" style escapes into bytes. */
std::string Unescape(std::string_view text);

/** Result of running a session over some input. */
struct RunResult {
	std::string client;
	std::vector<std::string> events;
};

/**
 * Runs a session built from @p t's config over @p chunks of server input, draining
 * events after each chunk. As over a real connection, the reply to the n-th command is
 * only fed once the session has sent n commands, so a chunk may be fed in parts. It
 * answering each MessageEnd with Saved() (or NotSaved() for numbers listed in
 * `not-saved`), and returns the client bytes and the event log. Consecutive data events
 * of one message are merged, so the log does not depend on how the input was split.
 */
RunResult RunTranscript(const Transcript &t, const std::vector<std::string> &chunks);

} // namespace popstream::test
