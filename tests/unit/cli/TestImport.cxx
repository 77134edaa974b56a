// popstream import: the command's errors and exit statuses, and end to end: the real
// binary's output for each tool's sample rc file passes the real check-config.
#include "cli/Import.hxx"

#include "ImportSamples.hxx"
#include "Process.hxx"
#include "TempDir.hxx"

#include <doctest/doctest.h>

#include <unistd.h>

#include <sstream>

using namespace popstream;
using popstream::test::TempDir;
using popstream::test::WriteFile;

namespace {

struct Output {
	int status;
	std::string out, err;
};

Output Import(const std::string &tool, const std::string &path)
{
	std::ostringstream out, err;
	const int status = cli::RunImport(tool, path, "popstream", out, err);
	return {status, out.str(), err.str()};
}

test::ProcessResult RunBinary(std::vector<std::string> args, const std::string &home)
{
	args.insert(args.begin(), test::RequireEnv("POPSTREAM_BIN"));
	test::ProcessOptions options;
	options.argv = std::move(args);
	// ~ in the imported paths, and no netrc of the user running the tests.
	options.env = {"HOME=" + home, "NETRC=" + home + "/netrc", "XDG_CONFIG_HOME"};
	options.timeout = std::chrono::seconds(30);
	return test::Run(options);
}

} // namespace

TEST_CASE("import: the output of each tool's sample passes check-config")
{
	TempDir dir;
	// Where the comments say to put the passwords: here, for every host.
	WriteFile(dir / "netrc", "default password pw\n", 0600);
	const std::pair<const char *, const char *> samples[] = {
	    {"fetchmail", test::fetchmail_rc},
	    {"getmail", test::getmail_rc},
	    {"mpop", test::mpop_rc},
	};
	for (const auto &[tool, rc] : samples) {
		CAPTURE(tool);
		const auto rc_path = dir / (std::string(tool) + "rc");
		WriteFile(rc_path, rc);
		const auto before = test::ListDir(dir.Path());
		const auto imported = RunBinary({"import", tool, rc_path}, dir.Path());
		CHECK(imported.exit_code == 0);
		CHECK(imported.err.empty());
		CHECK(imported.out.starts_with("# popstream config.yaml imported from " +
					       std::string(tool) + " file " + rc_path));
		// It writes nothing but standard output.
		CHECK(test::ListDir(dir.Path()) == before);
		const auto yaml_path = dir / (std::string(tool) + ".yaml");
		WriteFile(yaml_path, imported.out);
		const auto checked = RunBinary({"check-config", yaml_path}, dir.Path());
		// getmail's sample runs /usr/bin/pass, which check-config looks for.
		if (std::string(tool) == "getmail" &&
		    access("/usr/bin/pass", X_OK) != 0) {
			CHECK(checked.err ==
			      yaml_path + ":5:5: account getmail: /usr/bin/pass is "
					  "not an executable file\n");
			CHECK(checked.exit_code == 78);
			continue;
		}
		CHECK(checked.err == "");
		CHECK(checked.exit_code == 0);
		for (const char *secret : {"hunter2", "secret123"})
			CHECK(imported.out.find(secret) == std::string::npos);
	}
}

TEST_CASE("import: a file that cannot be read is EX_NOINPUT, with one line")
{
	TempDir dir;
	const auto missing = dir / "nosuch";
	auto result = Import("mpop", missing);
	CHECK(result.status == 66);
	CHECK(result.out.empty());
	CHECK(result.err ==
	      "popstream: " + missing + ": cannot read: No such file or directory\n");
	result = Import("mpop", dir.Path());
	CHECK(result.status == 66);
	CHECK(result.err ==
	      "popstream: " + dir.Path() + ": cannot read: Is a directory\n");
}

TEST_CASE("import: a syntax error is EX_DATAERR, with FILE:LINE")
{
	TempDir dir;
	const auto path = dir / "fetchmailrc";
	WriteFile(path, "poll a.example\n  user joe\n  frobnicate\n");
	auto result = Import("fetchmail", path);
	CHECK(result.status == 65);
	CHECK(result.out.empty());
	CHECK(result.err ==
	      "popstream: " + path +
		  ":3: a word that is not a fetchmail keyword (a value that "
		  "needs quotes?)\n");
}

TEST_CASE("import: a file without a POP3 account is EX_CONFIG, with one line")
{
	// The file is fine; popstream only has nothing to fetch from it. The same for
	// each tool: only IMAP, or no account at all.
	TempDir dir;
	const auto path = dir / "rc";
	WriteFile(path, "poll a.example proto imap user joe\n");
	auto result = Import("fetchmail", path);
	CHECK(result.status == 78);
	CHECK(result.out.empty());
	CHECK(result.err == "popstream: " + path + ": no POP3 poll entry\n");

	WriteFile(path, "[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = "
			"imap.example\nusername = joe\n");
	result = Import("getmail", path);
	CHECK(result.status == 78);
	CHECK(result.out.empty());
	CHECK(result.err == "popstream: " + path +
				":2: retriever type SimpleIMAPSSLRetriever is IMAP; "
				"popstream fetches POP3 only\n");

	WriteFile(path, "defaults\ntls on\n");
	result = Import("mpop", path);
	CHECK(result.status == 78);
	CHECK(result.out.empty());
	CHECK(result.err == "popstream: " + path + ": no account\n");

	// A retriever type getmail does not have is a mistake in the file.
	WriteFile(path, "[retriever]\ntype = SimplePOP4Retriever\nserver = h\n");
	result = Import("getmail", path);
	CHECK(result.status == 65);
	CHECK(result.err == "popstream: " + path +
				":2: retriever type SimplePOP4Retriever is not a getmail "
				"POP3 retriever\n");
}

TEST_CASE("import: the binary's usage errors are EX_USAGE")
{
	TempDir dir;
	WriteFile(dir / "rc", "account a\nhost a.example\n");
	auto result = RunBinary({"import", "kmail", dir / "rc"}, dir.Path());
	CHECK(result.exit_code == 64);
	CHECK(result.out.empty());
	result = RunBinary({"import", "mpop"}, dir.Path());
	CHECK(result.exit_code == 64);
	CHECK(Import("kmail", dir / "rc").err ==
	      "popstream: import: unknown tool \"kmail\" (fetchmail, getmail or mpop)\n");
	result = RunBinary({"import", "mpop", dir / "nosuch"}, dir.Path());
	CHECK(result.exit_code == 66);
	CHECK(result.err == "popstream: " + (dir / "nosuch") +
				": cannot read: No such file or directory\n");
}

TEST_CASE("import: output that cannot be written is EX_IOERR, not success")
{
	TempDir dir;
	const auto path = dir / "mpoprc";
	WriteFile(path, "account a\nhost a.example\n");
	std::ostringstream out, err;
	out.setstate(std::ios::badbit);
	CHECK(cli::RunImport("mpop", path, "popstream", out, err) == 74);
	CHECK(err.str() == "popstream: import: cannot write the output\n");
}
