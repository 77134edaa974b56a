// The listing inventory alone: what it decides for each listed message, what its
// duplicate index answers, and what bad UIDL lines cost.
#include "core/pop3/Inventory.hxx"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace popstream::pop3;

namespace {

std::string Quote(std::string_view text)
{
	return "\"" + std::string(text) + "\"";
}

/** Feeds a listing as the session does: UIDL lines first, then LIST's entries.
 * @p uidls[i] is message i+1's UIDL line text after the number ("" for none). */
void List(Inventory &inventory, const std::vector<std::uint64_t> &sizes,
	  const std::vector<std::string> &uidls)
{
	for (std::size_t i = 0; i < uidls.size(); ++i)
		if (!uidls[i].empty())
			inventory.AddUidlLine(std::to_string(i + 1) + " " + uidls[i],
					      Quote);
	inventory.UidlEnded();
	for (std::size_t i = 0; i < sizes.size(); ++i)
		REQUIRE_FALSE(
		    inventory.AddSize(static_cast<std::uint32_t>(i + 1), sizes[i]));
	inventory.ListEnded();
	inventory.Classify();
}

/** @return "number:plan:uidl" for each message acted on */
std::vector<std::string> Plans(const Inventory &inventory)
{
	static constexpr const char *names[] = {"fetch", "dele", "keep", "oversize"};
	std::vector<std::string> out;
	for (const auto &m : inventory.Messages())
		out.push_back(std::to_string(m.number) + ":" +
			      names[static_cast<int>(m.plan)] + ":" +
			      std::string(m.Uidl()));
	return out;
}

/** A saved copy that vouches for @p vouch, and one known but unable to vouch for
 * @p known. */
InventoryRules Saved(std::set<std::string> vouch, std::set<std::string> known = {})
{
	InventoryRules rules;
	rules.already_saved = [vouch, known](std::string_view uidl,
					     std::uint64_t) -> std::optional<SavedCopy> {
		if (vouch.contains(std::string(uidl)))
			return SavedCopy{};
		if (known.contains(std::string(uidl)))
			return SavedCopy{true, false};
		return std::nullopt;
	};
	return rules;
}

using V = std::vector<std::string>;

} // namespace

TEST_CASE("saved copies are deleted unread, new messages fetched, in number order")
{
	Inventory inventory(Saved({"b"}, {"c"}));
	List(inventory, {10, 20, 30, 40}, {"a", "b", "c", ""});
	// "c" is known but cannot vouch: downloaded like a new message, under its id.
	CHECK(Plans(inventory) == V{"1:fetch:a", "2:dele:b", "3:fetch:c", "4:fetch:"});
	const auto &c = inventory.Counts();
	CHECK(c.listed == 4);
	CHECK(c.listed_bytes == 100);
	CHECK(c.to_fetch == 3);
	CHECK(c.to_fetch_bytes == 80);
	CHECK(c.already_saved == 1);
	CHECK(inventory.HaveUidl());
	CHECK_FALSE(inventory.UidlsComplete()); // message 4 has no unique-id
	CHECK(inventory.IndexOf(3) == 2u);
	CHECK_FALSE(inventory.IndexOf(5));
	CHECK(inventory.TakeWarnings().empty());
}

TEST_CASE("keep: a saved copy is left alone unless it expired")
{
	auto rules = Saved({"a", "b"});
	rules.keep = true;
	rules.already_saved = [](std::string_view uidl, std::uint64_t) {
		return std::optional<SavedCopy>(SavedCopy{false, uidl == "b"});
	};
	Inventory inventory(std::move(rules));
	List(inventory, {1, 2}, {"a", "b"});
	CHECK(Plans(inventory) == V{"1:keep:a", "2:dele:b"});
	CHECK(inventory.Messages()[1].expired);
	CHECK(inventory.UidlsComplete());
}

TEST_CASE("a unique-id named for two messages vouches for neither")
{
	SUBCASE("both new: fetched, without the unique-id")
	{
		Inventory inventory(InventoryRules{});
		List(inventory, {3, 3, 3}, {"x", "y", "x"});
		CHECK(Plans(inventory) == V{"1:fetch:", "2:fetch:y", "3:fetch:"});
		CHECK(inventory.DuplicateUidls() == std::vector<std::string_view>{"x"});
		const auto warnings = inventory.TakeWarnings();
		REQUIRE(warnings.size() == 1);
		CHECK(warnings[0].find("same UIDL to several messages") !=
		      std::string::npos);
	}
	SUBCASE("a copy saved under it is not trusted: both downloaded, none deleted")
	{
		Inventory inventory(Saved({"x"}));
		List(inventory, {3, 3}, {"x", "x"});
		CHECK(Plans(inventory) == V{"1:fetch:", "2:fetch:"});
		CHECK(inventory.Counts().already_saved == 0);
		CHECK(inventory.Counts().to_fetch == 2);
	}
	SUBCASE("past the limit a saved copy is still deleted, unless another shares it")
	{
		auto rules = Saved({"x"});
		rules.limit = 1;
		Inventory inventory(std::move(rules));
		List(inventory, {3, 3, 3}, {"a", "b", "x"});
		CHECK(Plans(inventory) == V{"1:fetch:a", "3:dele:x"});

		auto dup_rules = Saved({"x"});
		dup_rules.limit = 1;
		Inventory dup(std::move(dup_rules));
		List(dup, {3, 3, 3}, {"x", "b", "x"});
		// Message 1 was saved, but message 3 carries its unique-id: message 1
		// is new again, and left for later like every new one after the limit.
		CHECK(Plans(dup) == V{"2:fetch:b"});
		CHECK(dup.FirstDeferred() == 1);
		CHECK(dup.DuplicateUidls() == std::vector<std::string_view>{"x"});
	}
}

TEST_CASE("a bad UIDL line costs its message the unique-id, never the listing")
{
	Inventory inventory(InventoryRules{});
	inventory.AddUidlLine("1 a", Quote);
	inventory.AddUidlLine("2 has two", Quote);
	inventory.AddUidlLine("x y", Quote);
	inventory.AddUidlLine("3 c", Quote);
	inventory.AddUidlLine("3 c", Quote); // named twice: neither line is trusted
	inventory.AddUidlLine("2000000 z", Quote);
	auto warnings = inventory.TakeWarnings();
	CHECK(warnings ==
	      V{"warning: message 2: its UIDL line \"2 has two\" holds no usable "
		"unique-id; it is fetched without de-duplication",
		"warning: a message: its UIDL line \"x y\" does not start with a message "
		"number; it is fetched without de-duplication",
		"warning: message 3: UIDL names it twice; it is fetched without "
		"de-duplication",
		"warning: a message: UIDL names message 2000000 (messages are numbered 1 "
		"to at most 1000000); it is fetched without de-duplication"});
	inventory.UidlEnded();
	for (std::uint32_t n = 1; n <= 3; ++n)
		REQUIRE_FALSE(inventory.AddSize(n, 5));
	inventory.ListEnded();
	inventory.Classify();
	CHECK(Plans(inventory) == V{"1:fetch:a", "2:fetch:", "3:fetch:"});
	CHECK(inventory.Counts().bad_uidl_lines == 4);
	CHECK_FALSE(inventory.UidlsComplete());
}

TEST_CASE("a flood of bad UIDL lines: ten warnings, then one count")
{
	Inventory inventory(InventoryRules{});
	for (std::uint32_t n = 1; n <= 25; ++n)
		inventory.AddUidlLine(std::to_string(n) + " bad id", Quote);
	CHECK(inventory.TakeWarnings().size() == 10);
	inventory.BadUidl(26, "its UIDL line is longer than 8192 bytes");
	CHECK(inventory.TakeWarnings().empty());
	inventory.UidlEnded();
	REQUIRE_FALSE(inventory.AddSize(1, 5));
	inventory.Classify();
	CHECK(inventory.TakeWarnings() ==
	      V{"warning: 16 more message(s) with an unusable UIDL line are fetched "
		"without de-duplication"});
	CHECK(inventory.Counts().bad_uidl_lines == 26);
}

TEST_CASE("the listing's bounds: STAT's count, LIST's numbers")
{
	Inventory inventory(InventoryRules{});
	CHECK(inventory.Announced(limits::max_messages) == std::nullopt);
	CHECK(inventory.Announced(limits::max_messages + 1) ==
	      "protocol error: server claims 1000001 messages (more than 1000000)");
	CHECK(inventory.AddSize(limits::max_messages + 1, 1) ==
	      "protocol error: LIST names message 1000001 (messages are numbered 1 to "
	      "at most 1000000)");
	CHECK_FALSE(inventory.AddSize(2, 5000000000ull)); // a size past 32 bits
	CHECK(inventory.AddSize(2, 1) == "protocol error: LIST names message 2 twice");
	inventory.Classify();
	REQUIRE(inventory.Messages().size() == 1);
	CHECK(inventory.Messages()[0].size == 5000000000ull);
	CHECK(inventory.Counts().listed == 1);
}

TEST_CASE("once a new message is left for later, so is every later new one")
{
	SUBCASE("limit_bytes")
	{
		InventoryRules rules;
		rules.limit_bytes = 50;
		Inventory inventory(std::move(rules));
		List(inventory, {5, 100, 5}, {"a", "b", "c"});
		// Message 3 would fit, but fetching it past message 2 could hide a
		// duplicate of the two.
		CHECK(Plans(inventory) == V{"1:fetch:a"});
		CHECK(inventory.Counts().deferred == 2);
		CHECK(inventory.FirstDeferred() == 2);
	}
	SUBCASE("StopFetching() before the listing ends")
	{
		Inventory inventory(Saved({"b"}));
		inventory.StopFetching();
		List(inventory, {5, 5}, {"a", "b"});
		// A saved copy may still be deleted: that is not fetching.
		CHECK(Plans(inventory) == V{"2:dele:b"});
		CHECK(inventory.FirstDeferred() == 1);
	}
	SUBCASE("a listing longer than expected after confirmed deletions")
	{
		InventoryRules rules;
		rules.expect_at_most = 1;
		Inventory inventory(std::move(rules));
		List(inventory, {3, 3}, {"a", "b"});
		CHECK(Plans(inventory).empty());
		CHECK(inventory.Counts().deferred == 2);
		const auto warnings = inventory.TakeWarnings();
		REQUIRE(warnings.size() == 1);
		CHECK(warnings[0].find("lists 2 messages, more than the 1") !=
		      std::string::npos);
	}
	SUBCASE("first_number: below it nothing new is acted on")
	{
		InventoryRules rules;
		rules.first_number = 2;
		Inventory inventory(std::move(rules));
		List(inventory, {3, 3, 3}, {"x", "a", "x"});
		// Message 1's unique-id still goes into the index, so message 3 is
		// known to share it.
		CHECK(Plans(inventory) == V{"2:fetch:a", "3:fetch:"});
	}
}

TEST_CASE("oversize messages are left, or deleted unread")
{
	InventoryRules rules;
	rules.max_message_size = 10;
	Inventory left(rules);
	List(left, {5, 11}, {"a", "b"});
	CHECK(Plans(left) == V{"1:fetch:a"});
	CHECK(left.Counts().oversize_skipped == 1);
	CHECK(left.TakeWarnings() ==
	      V{"message 2 (UIDL b): 11 octets, over max_message_size (10): left on the "
		"server"});

	rules.oversize = Oversize::Delete;
	Inventory deleted(rules);
	List(deleted, {5, 11}, {"a", "b"});
	CHECK(Plans(deleted) == V{"1:fetch:a", "2:oversize:b"});
	CHECK(deleted.Counts().oversize_deleted == 1);
}

TEST_CASE("a copy is a size twin if another fetched message is within 2 octets")
{
	Inventory inventory(Saved({"d"}));
	List(inventory, {100, 102, 200, 100}, {"a", "b", "c", "d"});
	REQUIRE(Plans(inventory) == V{"1:fetch:a", "2:fetch:b", "3:fetch:c", "4:dele:d"});
	CHECK(inventory.HasSizeTwin(0));
	CHECK(inventory.HasSizeTwin(1));
	CHECK_FALSE(inventory.HasSizeTwin(2));
	// Message 4 is deleted unread, but message 1's body could pass for it.
	CHECK(inventory.HasSizeTwin(3));
}
