#pragma once

// rc files of fetchmail, getmail and mpop written to cover each tool's documented
// syntax (fetchmail(1), getmail6's getmailrc documentation, mpop(1)); read by the
// importer's unit tests (tests/unit/core/import/) and run through the real binary and
// check-config by tests/unit/cli/TestImport.cxx.

namespace popstream::test {

/** A fetchmail configuration using most of its syntax. */
inline constexpr const char *fetchmail_rc = R"rc(# Globals.
set daemon 600
set logfile "~/.fetchmail.log"
set no bouncemail

defaults proto pop3 timeout 60

# One POP3 server, two users, in fetchmail's English.
poll pop.example.com with proto POP3:
    user "alice" there with password "hunter2" is "al" here, options ssl keep fetchall limit 2000000 fetchlimit 50
    user bob there has password 'pw "two"' is bob here and wants nokeep mda "/usr/bin/procmail -d %T"
# A label with via; APOP; STLS demanded.
poll work via mail.work.example protocol apop port 1110
    username carol@work.example sslproto TLS1.2 no sslcertck expunge 100 mimedecode
    smtphost localhost
skip old.example.net proto pop3 user "dave" password "x"
poll imap.example.org proto imap user erin password y
)rc";

/** A getmail configuration using most of its syntax. */
inline constexpr const char *getmail_rc = R"rc([retriever]
type = SimplePOP3SSLRetriever
server = pop.example.com
port = 995
username = alice@example.com
password_command = ('/usr/bin/pass', 'show', "mail/work")
ssl_fingerprints = ('AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89',)

[destination]
type = Maildir
path = ~/Mail/work/

[options]
# keep for a fortnight
delete = false
delete_after = 14
max_message_size = 25000000
max_messages_per_session = 500
verbose = 2
message_log = ~/.getmail/log
)rc";

/** A mpop configuration using most of its syntax. */
inline constexpr const char *mpop_rc = R"rc(# Defaults for every account below.
defaults
tls on
tls_starttls off
delivery maildir ~/Mail/inbox
keep off

account freemail
host pop.freemail.example
user joe.smith
passwordeval "gpg --no-tty -q -d ~/.mpop-password.gpg"
killsize 10m
uidls_file ~/.mpop_uidls/%U_at_%H

account work.mail : freemail
host pop.work.example
port 1995
password secret123
tls_fingerprint 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
delivery mda "/usr/bin/procmail -f '%F' -d $USER"
keep on
only_new off

account plain
host 192.0.2.7
tls off
auth user
delivery mbox "~/Mail/plain mbox"
)rc";

} // namespace popstream::test
