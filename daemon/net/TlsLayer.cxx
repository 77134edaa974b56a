#include "TlsLayer.hxx"
#include "Connection.hxx"
#include "Describe.hxx"
#include "config.h"
#include "core/util/Escape.hxx"
#include "posix/File.hxx"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <uv.h>

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <sys/stat.h>

namespace popstream::net {

namespace {

/** A CA bundle is a few hundred KiB; the cap only stops a path such as /dev/zero from
 * eating memory. */
constexpr std::size_t kMaxCaFileBytes = 16 * 1024 * 1024;

/** Enough names to recognise the certificate without flooding the log line. */
constexpr std::size_t kMaxNamesShown = 5;

std::string MbedtlsText(int ret)
{
	char buffer[160];
	mbedtls_strerror(ret, buffer, sizeof(buffer));
	char code[16];
	std::snprintf(code, sizeof(code), " (-0x%04x)", static_cast<unsigned>(-ret));
	return std::string(buffer) + code;
}

std::string FormatDate(const mbedtls_x509_time &t)
{
	char buffer[16];
	std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d", t.year, t.mon, t.day);
	return buffer;
}

/** Alert names of RFC 5246 §7.2 and RFC 8446 §6, for the ones servers really send. */
const char *AlertName(unsigned char alert) noexcept
{
	switch (alert) {
	case 10:
		return "unexpected message";
	case 20:
		return "bad record MAC";
	case 40:
		return "handshake failure: no common cipher suite or parameters";
	case 42:
		return "bad certificate";
	case 47:
		return "illegal parameter";
	case 48:
		return "unknown CA";
	case 50:
		return "decode error";
	case 51:
		return "decrypt error";
	case 70:
		return "protocol version: the server does not accept TLS 1.2";
	case 71:
		return "insufficient security";
	case 80:
		return "internal error";
	case 109:
		return "missing extension";
	case 112:
		return "unrecognized name: the server does not know that SNI name";
	default:
		return nullptr;
	}
}

/** What a certificate names, each entry escaped for messages. */
struct CertificateNames {
	/** subjectAltName DNS names and IP addresses in certificate order, or the CN(s)
	 * when there is no subjectAltName: what mbedTLS matches a DNS name against. */
	std::vector<std::string> all;
	/** subjectAltName dNSName and iPAddress entries (addresses in text form). */
	std::vector<std::string> dns, ips;
	/** The subject's CN(s), only for a certificate without subjectAltName. */
	std::vector<std::string> cns;
};

CertificateNames ReadNames(const mbedtls_x509_crt &crt)
{
	CertificateNames names;
	constexpr unsigned char dns_tag =
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME;
	constexpr unsigned char ip_tag =
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;
	for (const mbedtls_x509_sequence *san = &crt.subject_alt_names; san != nullptr;
	     san = san->next) {
		const mbedtls_x509_buf &b = san->buf;
		if (b.p == nullptr || b.len == 0)
			continue;
		const std::string_view raw(reinterpret_cast<const char *>(b.p), b.len);
		if (b.tag == dns_tag) {
			names.dns.push_back(Escape(raw, 128));
			names.all.push_back(names.dns.back());
		} else if (b.tag == ip_tag && (b.len == 4 || b.len == 16)) {
			char text[64];
			const int family = b.len == 4 ? AF_INET : AF_INET6;
			if (uv_inet_ntop(family, b.p, text, sizeof(text)) == 0) {
				names.ips.emplace_back(text);
				names.all.emplace_back(text);
			}
		}
	}
	// RFC 6125 §6.4.4: the CN counts only when there is no subjectAltName.
	if (names.all.empty()) {
		for (const mbedtls_x509_name *n = &crt.subject; n != nullptr; n = n->next)
			if (n->oid.p != nullptr &&
			    MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
				names.cns.push_back(
				    Escape(std::string_view(
					       reinterpret_cast<const char *>(n->val.p),
					       n->val.len),
					   128));
		names.all = names.cns;
	}
	return names;
}

/** @return "a, b, c", the first kMaxNamesShown of @p names, then ", ..." if more */
std::string JoinNames(const std::vector<std::string> &names)
{
	std::string text;
	for (std::size_t i = 0; i < names.size() && i < kMaxNamesShown; ++i)
		text += (i == 0 ? "" : ", ") + names[i];
	if (names.size() > kMaxNamesShown)
		text += ", ...";
	return text;
}

/**
 * @param name a server name as configured: a DNS name, an IPv4 address, or an IPv6
 *        address with or without brackets and zone ("[fe80::1%eth0]")
 * @return the address in network byte order (4 or 16 octets), or empty for a DNS name
 */
std::string ParseIpLiteral(std::string_view name)
{
	if (name.size() >= 2 && name.front() == '[' && name.back() == ']')
		name = name.substr(1, name.size() - 2);
	// The zone says which interface to use, not which host: it is not in the
	// certificate.
	if (name.find(':') != std::string_view::npos)
		name = name.substr(0, name.find('%'));
	const std::string text(name);
	unsigned char octets[16];
	if (uv_inet_pton(AF_INET, text.c_str(), octets) == 0)
		return std::string(reinterpret_cast<const char *>(octets), 4);
	if (uv_inet_pton(AF_INET6, text.c_str(), octets) == 0)
		return std::string(reinterpret_cast<const char *>(octets), 16);
	return {};
}

/** @return whether a subjectAltName iPAddress entry of @p crt holds exactly @p ip
 * (RFC 5280 §4.2.1.6: 4 octets for IPv4, 16 for IPv6; the families never match) */
bool HasIpAddress(const mbedtls_x509_crt &crt, std::string_view ip) noexcept
{
	constexpr unsigned char ip_tag =
	    MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;
	for (const mbedtls_x509_sequence *san = &crt.subject_alt_names; san != nullptr;
	     san = san->next)
		if (san->buf.tag == ip_tag && san->buf.p != nullptr &&
		    san->buf.len == ip.size() &&
		    std::memcmp(san->buf.p, ip.data(), ip.size()) == 0)
			return true;
	return false;
}

/** A client certificate or key is small; the cap only stops /dev/zero. */
constexpr std::size_t kMaxClientFileBytes = 1024 * 1024;

Sha256Digest Sha256(const unsigned char *data, std::size_t size) noexcept
{
	Sha256Digest digest{};
	// Cannot fail for an in-memory buffer with the software implementation.
	mbedtls_sha256_ret(data, size, digest.data(), 0);
	return digest;
}

std::string FormatTime(const mbedtls_x509_time &t)
{
	char buffer[32];
	std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02d %02d:%02d:%02d UTC", t.year,
		      t.mon, t.day, t.hour, t.min, t.sec);
	return buffer;
}

std::string DistinguishedName(const mbedtls_x509_name &name)
{
	char buffer[1024];
	const int n = mbedtls_x509_dn_gets(buffer, sizeof(buffer), &name);
	if (n < 0)
		return "(unprintable)";
	return Escape(std::string_view(buffer, static_cast<std::size_t>(n)), 512);
}

/**
 * Reads a whole PEM file for mbedTLS, which wants the terminating NUL counted.
 * @param what "client certificate" or "key file", for the message
 * @throws NetError (Tls) naming the file
 */
std::string ReadPemFile(const std::string &path, const char *what)
{
	const std::string prefix =
	    std::string("TLS: cannot read ") + what + " '" + Escape(path) + "': ";
	const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw NetError(NetErrorKind::Tls,
			       prefix + DescribeUvError(uv_translate_sys_error(errno)));
	struct stat st {};
	if (fstat(fd, &st) != 0) {
		const int error = errno;
		close(fd);
		throw NetError(NetErrorKind::Tls,
			       prefix + DescribeUvError(uv_translate_sys_error(error)));
	}
	// As ftp(1) and popstream refuse a netrc file others can read: a private key
	// that group or others can read is no longer private.
	if (std::strcmp(what, "key file") == 0 && (st.st_mode & 077) != 0) {
		close(fd);
		char mode[8];
		std::snprintf(mode, sizeof(mode), "%04o",
			      static_cast<unsigned>(st.st_mode & 07777));
		throw NetError(NetErrorKind::Tls,
			       "TLS: key file '" + Escape(path) +
				   "' must not be accessible by group or others (mode " +
				   mode + "); run chmod 600 " + Escape(path));
	}
	const auto read = posix::ReadToEnd(fd, kMaxClientFileBytes);
	close(fd);
	if (read.error != 0)
		throw NetError(NetErrorKind::Tls,
			       prefix +
				   DescribeUvError(uv_translate_sys_error(read.error)));
	if (read.too_large)
		throw NetError(NetErrorKind::Tls, prefix + "larger than 1 MiB");
	return read.text;
}

/**
 * Parses the client certificate and key of @p options into @p cert and @p key.
 * @throws NetError (Tls) naming the file
 */
void LoadClientCertificate(const TlsOptions &options, mbedtls_x509_crt &cert,
			   mbedtls_pk_context &key)
{
	if (options.key_file.empty())
		throw NetError(NetErrorKind::Tls,
			       "TLS: client certificate '" + Escape(options.cert_file) +
				   "' needs a key file (tls_key, --tls-key)");
	const std::string pem = ReadPemFile(options.cert_file, "client certificate");
	int ret = mbedtls_x509_crt_parse(
	    &cert, reinterpret_cast<const unsigned char *>(pem.c_str()), pem.size() + 1);
	if (cert.version == 0)
		throw NetError(NetErrorKind::Tls,
			       "TLS: client certificate '" + Escape(options.cert_file) +
				   "' holds no usable certificate" +
				   (ret < 0 ? ": " + MbedtlsText(ret) : std::string()));
	std::string key_pem = ReadPemFile(options.key_file, "key file");
	ret = mbedtls_pk_parse_key(
	    &key, reinterpret_cast<const unsigned char *>(key_pem.c_str()),
	    key_pem.size() + 1, nullptr, 0);
	// The key's bytes are a secret: do not leave them in freed memory.
	std::fill(key_pem.begin(), key_pem.end(), '\0');
	if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
		throw NetError(NetErrorKind::Tls,
			       "TLS: key file '" + Escape(options.key_file) +
				   "' is encrypted; popstream needs an unencrypted key "
				   "(openssl pkey -in KEY -out PLAIN)");
	if (ret != 0)
		throw NetError(NetErrorKind::Tls,
			       "TLS: key file '" + Escape(options.key_file) +
				   "' holds no usable private key: " + MbedtlsText(ret));
	if (mbedtls_pk_check_pair(&cert.pk, &key) != 0)
		throw NetError(NetErrorKind::Tls,
			       "TLS: key file '" + Escape(options.key_file) +
				   "' does not belong to the client certificate '" +
				   Escape(options.cert_file) + "'");
}

/** @return the mbedTLS minor version of TLS @p version (major is always 3) */
int MinorVersion(TlsVersion version) noexcept
{
	switch (version) {
	case TlsVersion::Tls1_0:
		return MBEDTLS_SSL_MINOR_VERSION_1;
	case TlsVersion::Tls1_1:
		return MBEDTLS_SSL_MINOR_VERSION_2;
	case TlsVersion::Tls1_2:
		break;
	}
	return MBEDTLS_SSL_MINOR_VERSION_3;
}

/** Parses the CA file @p path into @p ca. @throws NetError (Tls) naming it */
void ParseCaFile(const std::string &path, mbedtls_x509_crt &ca)
{
	// Read the file here rather than with mbedtls_x509_crt_parse_file(), whose
	// MBEDTLS_ERR_PK_FILE_IO_ERROR does not say whether the file is missing or
	// unreadable.
	const std::string what = "TLS: cannot read CA file '" + Escape(path) + "': ";
	const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		throw NetError(NetErrorKind::Tls,
			       what + DescribeUvError(uv_translate_sys_error(errno)));
	const auto read = posix::ReadToEnd(fd, kMaxCaFileBytes);
	close(fd);
	if (read.error != 0)
		throw NetError(NetErrorKind::Tls,
			       what +
				   DescribeUvError(uv_translate_sys_error(read.error)));
	if (read.too_large)
		throw NetError(NetErrorKind::Tls, what + "larger than 16 MiB");
	const std::string &pem = read.text;

	// mbedTLS recognises PEM only in a NUL-terminated buffer whose length counts the
	// NUL. A positive result counts certificates it skipped: system bundles hold a
	// few that mbedTLS cannot parse, and the others are still usable.
	const int ret = mbedtls_x509_crt_parse(
	    &ca, reinterpret_cast<const unsigned char *>(pem.c_str()), pem.size() + 1);
	if (ca.version == 0)
		throw NetError(NetErrorKind::Tls,
			       "TLS: CA file '" + Escape(path) +
				   "' holds no usable certificate" +
				   (ret < 0 ? ": " + MbedtlsText(ret) : std::string()));
}

/** @return "PATH@DEV:INODE:SIZE:MTIME_NS", or "PATH@missing" */
std::string FileIdentity(const std::string &path)
{
	struct stat st {};
	if (stat(path.c_str(), &st) != 0)
		return path + "@missing";
	return path + "@" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) +
	       ":" + std::to_string(st.st_size) + ":" +
	       std::to_string(st.st_mtim.tv_sec) + "." +
	       std::to_string(st.st_mtim.tv_nsec);
}

} // namespace

std::string TlsTrustKey(const std::string &server_name, const TlsOptions &options)
{
	std::string key = "name=" + server_name;
	key += "\nca=" + FileIdentity(options.ca_file.empty()
					  ? std::string(POPSTREAM_SYSTEM_CA_FILE)
					  : options.ca_file);
	key += "\npins=";
	for (const auto &pin : options.fingerprints)
		key += FormatTlsFingerprint(pin) + ",";
	key += "\nmin=" + std::string(TlsVersionName(options.min_version));
	if (!options.cert_file.empty())
		key += "\ncert=" + FileIdentity(options.cert_file);
	if (!options.key_file.empty())
		key += "\nkey=" + FileIdentity(options.key_file);
	// mbedtls_ssl_session_load() refuses another build's format anyway; naming the
	// version makes such a session a plain miss.
	key += "\nmbedtls=" MBEDTLS_VERSION_STRING;
	return key;
}

void CheckCaFile(const std::string &path)
{
	if (path.empty())
		return;
	mbedtls_x509_crt ca;
	mbedtls_x509_crt_init(&ca);
	try {
		ParseCaFile(path, ca);
	} catch (...) {
		mbedtls_x509_crt_free(&ca);
		throw;
	}
	mbedtls_x509_crt_free(&ca);
}

void CheckClientCertificate(const TlsOptions &options)
{
	if (options.cert_file.empty()) {
		if (!options.key_file.empty())
			throw NetError(NetErrorKind::Tls,
				       "TLS: key file '" + Escape(options.key_file) +
					   "' without a client certificate (tls_cert, "
					   "--tls-cert)");
		return;
	}
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	try {
		LoadClientCertificate(options, cert, key);
	} catch (...) {
		mbedtls_pk_free(&key);
		mbedtls_x509_crt_free(&cert);
		throw;
	}
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&cert);
}

TlsLayer::TlsLayer(const std::string &server_name, const TlsOptions &options,
		   std::string peer, bool report_untrusted)
    : server_name_(server_name), server_ip_(ParseIpLiteral(server_name)),
      peer_(std::move(peer)), pins_(options.fingerprints),
      min_version_(options.min_version), report_untrusted_(report_untrusted)
{
	mbedtls_entropy_init(&entropy_);
	mbedtls_ctr_drbg_init(&drbg_);
	mbedtls_x509_crt_init(&ca_);
	mbedtls_x509_crt_init(&own_cert_);
	mbedtls_pk_init(&own_key_);
	mbedtls_ssl_config_init(&config_);
	mbedtls_ssl_init(&ssl_);
	try {
		Setup(options);
	} catch (...) {
		// The destructor does not run for a constructor that throws.
		Free();
		throw;
	}
}

TlsLayer::~TlsLayer()
{
	Free();
}

void TlsLayer::Free() noexcept
{
	mbedtls_platform_zeroize(offered_master_, sizeof(offered_master_));
	mbedtls_ssl_free(&ssl_);
	mbedtls_ssl_config_free(&config_);
	mbedtls_pk_free(&own_key_);
	mbedtls_x509_crt_free(&own_cert_);
	mbedtls_x509_crt_free(&ca_);
	mbedtls_ctr_drbg_free(&drbg_);
	mbedtls_entropy_free(&entropy_);
}

void TlsLayer::Setup(const TlsOptions &options)
{
	// Even with pins the CA store is loaded: mbedTLS will not verify (and so call
	// OnVerify()) without one.
	LoadCaFile(options.ca_file.empty() ? std::string(POPSTREAM_SYSTEM_CA_FILE)
					   : options.ca_file);
	if (!options.cert_file.empty() || !options.key_file.empty()) {
		if (options.cert_file.empty())
			CheckClientCertificate(options);
		LoadClientCertificate(options, own_cert_, own_key_);
	}

	auto check = [this](int ret, const char *what) {
		if (ret != 0)
			throw NetError(NetErrorKind::Tls,
				       "TLS: cannot set up a connection to " + peer_ +
					   ": " + what + ": " + MbedtlsText(ret));
	};
	static constexpr char personalization[] = "popstream TLS client";
	check(mbedtls_ctr_drbg_seed(
		  &drbg_, mbedtls_entropy_func, &entropy_,
		  reinterpret_cast<const unsigned char *>(personalization),
		  sizeof(personalization) - 1),
	      "random number generator");
	check(mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_CLIENT,
					  MBEDTLS_SSL_TRANSPORT_STREAM,
					  MBEDTLS_SSL_PRESET_DEFAULT),
	      "configuration");
	// RFC 8996 deprecates TLS 1.0 and 1.1; RFC 8314 §4.1 asks for 1.2 or newer,
	// the default. Older versions only for a server that has nothing else.
	mbedtls_ssl_conf_min_version(&config_, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MinorVersion(options.min_version));
	// REQUIRED (not OPTIONAL) makes mbedTLS abort the handshake and alert the
	// server itself, so a rejected certificate can never reach the application.
	// OnVerify() clears the flags of a pinned certificate and flags a mismatch, so
	// pins keep REQUIRED too; only serverinfo, which sends no secret and reports
	// the verdict, lets the handshake finish (Handshake() still refuses to go on
	// unless #report_untrusted_).
	mbedtls_ssl_conf_authmode(&config_, report_untrusted_
						? MBEDTLS_SSL_VERIFY_OPTIONAL
						: MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&config_, &ca_, nullptr);
	if (!options.cert_file.empty())
		check(mbedtls_ssl_conf_own_cert(&config_, &own_cert_, &own_key_),
		      "client certificate");
	mbedtls_ssl_conf_rng(&config_, mbedtls_ctr_drbg_random, &drbg_);
	mbedtls_ssl_conf_verify(&config_, OnVerify, this);
	check(mbedtls_ssl_setup(&ssl_, &config_), "session");
	// One call sets both the SNI extension and the name the certificate must match.
	// mbedTLS 2.28 matches DNS names only, and RFC 6066 §3 forbids an address in SNI:
	// for an IP literal, NULL sends no SNI and leaves the name to OnVerify() while
	// mbedTLS still checks the chain (newer mbedTLS versions refuse to verify unless
	// the NULL is explicit).
	check(mbedtls_ssl_set_hostname(&ssl_, server_ip_.empty() ? server_name_.c_str()
								 : nullptr),
	      "server name");
	mbedtls_ssl_set_bio(&ssl_, this, OnSend, OnReceive, nullptr);
}

void TlsLayer::LoadCaFile(const std::string &path)
{
	ParseCaFile(path, ca_);
}

int TlsLayer::OnSend(void *ctx, const unsigned char *buffer, std::size_t length) noexcept
{
	auto &self = *static_cast<TlsLayer *>(ctx);
	// The return value is an int; mbedTLS never passes more than one record.
	self.output_.append(reinterpret_cast<const char *>(buffer), length);
	return static_cast<int>(length);
}

int TlsLayer::OnReceive(void *ctx, unsigned char *buffer, std::size_t length) noexcept
{
	auto &self = *static_cast<TlsLayer *>(ctx);
	const std::size_t available = self.input_.size() - self.input_pos_;
	if (available == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	const std::size_t n = std::min(length, available);
	std::memcpy(buffer, self.input_.data() + self.input_pos_, n);
	self.input_pos_ += n;
	return static_cast<int>(n);
}

int TlsLayer::OnVerify(void *ctx, mbedtls_x509_crt *crt, int depth,
		       std::uint32_t *flags) noexcept
{
	auto &self = *static_cast<TlsLayer *>(ctx);
	// mbedtls_ssl_get_peer_cert() is NULL after a failed handshake, so whatever the
	// error message shows about the certificate has to be taken here.
	if (depth == 0) {
		CertificateNames names = ReadNames(*crt);
		self.leaf_names_ = std::move(names.all);
		self.leaf_dns_ = std::move(names.dns);
		self.leaf_ips_ = std::move(names.ips);
		self.leaf_cns_ = std::move(names.cns);
		// RFC 6125 §6.2.1: an address matches only an iPAddress entry, never a
		// DNS name or the CN. The flag fails the handshake inside mbedTLS, which
		// alerts the server before any application data.
		if (!self.server_ip_.empty() && !HasIpAddress(*crt, self.server_ip_))
			*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
		self.leaf_sha256_ = Sha256(crt->raw.p, crt->raw.len);
		// pk_raw is the SubjectPublicKeyInfo exactly as the certificate holds it,
		// the bytes curl and `openssl pkey -pubin -outform der` hash.
		self.leaf_spki_sha256_ = Sha256(crt->pk_raw.p, crt->pk_raw.len);
	}
	if (!self.pins_.empty()) {
		// A pin replaces every other check: the issuers' flags are dropped, and
		// the leaf (called last, depth 0) alone decides. mbedTLS ORs each call's
		// flags into the result, so an issuer cannot be cleared later.
		if (depth > 0) {
			*flags = 0;
			return 0;
		}
		self.pin_matched_ = false;
		for (const auto &pin : self.pins_) {
			const auto &digest = pin.kind == TlsFingerprint::Kind::Certificate
						 ? self.leaf_sha256_
						 : self.leaf_spki_sha256_;
			if (pin.digest == digest)
				self.pin_matched_ = true;
		}
		*flags = self.pin_matched_ ? 0 : MBEDTLS_X509_BADCERT_OTHER;
		return 0;
	}
	if ((*flags & MBEDTLS_X509_BADCERT_EXPIRED) != 0 && self.expired_on_.empty()) {
		self.expired_on_ = FormatDate(crt->valid_to);
		self.issuer_date_ = depth > 0;
	}
	if ((*flags & MBEDTLS_X509_BADCERT_FUTURE) != 0 && self.valid_from_.empty()) {
		self.valid_from_ = FormatDate(crt->valid_from);
		self.issuer_date_ = depth > 0;
	}
	return 0;
}

void TlsLayer::PushInput(std::string_view ciphertext)
{
	if (input_pos_ == input_.size()) {
		input_.clear();
		input_pos_ = 0;
	} else if (input_pos_ > input_.size() / 2) {
		input_.erase(0, input_pos_);
		input_pos_ = 0;
	}
	input_.append(ciphertext);
}

std::string TlsLayer::TakeOutput() noexcept
{
	return std::exchange(output_, std::string());
}

bool TlsLayer::Handshake()
{
	const int ret = mbedtls_ssl_handshake(&ssl_);
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return false;
	if (ret != 0)
		ThrowHandshakeError(ret);
	// VERIFY_REQUIRED already guarantees this; checking again keeps the code failing
	// closed should the configuration ever change.
	if (const std::uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
	    flags != 0 && !report_untrusted_)
		throw NetError(NetErrorKind::TlsVerify, VerifyMessage(flags));
	established_ = true;
	// A full handshake derives a new master secret from fresh randoms (RFC 5246
	// §8.1); only the abbreviated one keeps the offered session's. The session id
	// cannot tell: with a ticket the client makes up the id it sends (RFC 5077
	// §3.4), and a server may echo it whether or not it resumes.
	resumed_ = offered_ && ssl_.session != nullptr &&
		   std::memcmp(ssl_.session->master, offered_master_,
			       sizeof(offered_master_)) == 0;
	return true;
}

bool TlsLayer::OfferSession(std::string_view serialized) noexcept
{
	// serverinfo shows what the server presents: a resumed session shows nothing.
	if (serialized.empty() || established_ || offered_ || report_untrusted_)
		return false;
	mbedtls_ssl_session session;
	mbedtls_ssl_session_init(&session);
	bool usable =
	    mbedtls_ssl_session_load(
		&session, reinterpret_cast<const unsigned char *>(serialized.data()),
		serialized.size()) == 0 &&
	    session.verify_result == 0 && session.peer_cert != nullptr &&
	    session.peer_cert->raw.p != nullptr;
	if (usable) {
		// The caller keys saved sessions by everything that decides trust, so
		// these checks should never fail; they keep a stale session from standing
		// in for a certificate that the checks would now reject.
		const mbedtls_x509_crt &leaf = *session.peer_cert;
		if (mbedtls_x509_time_is_past(&leaf.valid_to) != 0)
			usable = false;
		if (usable && !pins_.empty()) {
			const auto sha256 = Sha256(leaf.raw.p, leaf.raw.len);
			const auto spki = Sha256(leaf.pk_raw.p, leaf.pk_raw.len);
			usable =
			    std::any_of(pins_.begin(), pins_.end(), [&](const auto &pin) {
				    return pin.digest ==
					   (pin.kind == TlsFingerprint::Kind::Certificate
						? sha256
						: spki);
			    });
		}
	}
	if (usable && mbedtls_ssl_set_session(&ssl_, &session) == 0) {
		std::memcpy(offered_master_, session.master, sizeof(offered_master_));
		offered_ = true;
	}
	// Zeroizes the master secret of this copy.
	mbedtls_ssl_session_free(&session);
	return offered_;
}

std::string TlsLayer::SaveSession() const
{
	if (!established_ || report_untrusted_ || ssl_.session == nullptr)
		return {};
	const mbedtls_ssl_session &session = *ssl_.session;
	// Neither a session id (RFC 5246 §7.4.1.3: empty when the server will not
	// cache it) nor a ticket: there is nothing to resume.
	if (session.id_len == 0 && session.ticket_len == 0)
		return {};
	std::size_t needed = 0;
	if (mbedtls_ssl_session_save(&session, nullptr, 0, &needed) !=
	    MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL)
		return {};
	std::string bytes(needed, '\0');
	if (mbedtls_ssl_session_save(&session,
				     reinterpret_cast<unsigned char *>(bytes.data()),
				     bytes.size(), &needed) != 0) {
		mbedtls_platform_zeroize(bytes.data(), bytes.size());
		return {};
	}
	bytes.resize(needed);
	return bytes;
}

TlsInfo TlsLayer::Info() const
{
	TlsInfo info;
	info.version = mbedtls_ssl_get_version(&ssl_);
	info.cipher_suite = mbedtls_ssl_get_ciphersuite(&ssl_);
	// The chain as the server sent it (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE), not as
	// verification completed it from the CA store.
	for (const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&ssl_);
	     crt != nullptr && crt->raw.p != nullptr; crt = crt->next) {
		CertificateInfo cert;
		cert.subject = DistinguishedName(crt->subject);
		cert.issuer = DistinguishedName(crt->issuer);
		cert.valid_from = FormatTime(crt->valid_from);
		cert.valid_to = FormatTime(crt->valid_to);
		cert.sha256 =
		    FormatCertificateFingerprint(Sha256(crt->raw.p, crt->raw.len));
		cert.public_key_pin =
		    FormatPublicKeyPin(Sha256(crt->pk_raw.p, crt->pk_raw.len));
		info.chain.push_back(std::move(cert));
	}
	if (const std::uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_); flags != 0)
		info.untrusted = VerifyReasons(flags);
	info.resumed = resumed_;
	return info;
}

void TlsLayer::ThrowHandshakeError(int ret) const
{
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
		throw NetError(NetErrorKind::TlsVerify,
			       VerifyMessage(mbedtls_ssl_get_verify_result(&ssl_)));

	const std::string what = "TLS handshake with " + peer_ + " failed: ";
	if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		// mbedTLS 2.28 reports the alert only through its debug log; the
		// description byte is still in the record buffer (in_msg[1]).
		const unsigned char alert = ssl_.in_msg != nullptr ? ssl_.in_msg[1] : 0;
		const char *name = AlertName(alert);
		throw NetError(NetErrorKind::Tls,
			       what + "the server sent alert " + std::to_string(alert) +
				   (name != nullptr ? std::string(" (") + name + ")"
						    : std::string()));
	}
	if (ret == MBEDTLS_ERR_SSL_INVALID_RECORD)
		// What a plain-text POP3 greeting looks like when parsed as a record.
		throw NetError(NetErrorKind::Tls,
			       what +
				   "the server does not speak TLS on this port (is it a "
				   "plain-text or STLS port?)");
	if (ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION)
		throw NetError(NetErrorKind::Tls,
			       what + "the server offers only TLS versions older than " +
				   TlsVersionName(min_version_) +
				   " (tls_min_version, --tls-min-version)");
	throw NetError(NetErrorKind::Tls, what + MbedtlsText(ret));
}

std::string TlsLayer::VerifyMessage(std::uint32_t flags) const
{
	return "TLS: certificate of " + Escape(server_name_, 256) +
	       " rejected: " + VerifyReasons(flags);
}

std::string TlsLayer::FingerprintMismatch() const
{
	std::string expected;
	for (std::size_t i = 0; i < pins_.size(); ++i)
		expected += (i == 0 ? "" : " or ") + FormatTlsFingerprint(pins_[i]);
	return "fingerprint mismatch: expected " + expected + "; the server presented " +
	       FormatCertificateFingerprint(leaf_sha256_) + " (public key " +
	       FormatPublicKeyPin(leaf_spki_sha256_) + ")";
}

std::string TlsLayer::VerifyReasons(std::uint32_t flags) const
{
	std::string reasons;
	auto add = [&reasons](const std::string &reason) {
		if (!reasons.empty())
			reasons += "; ";
		reasons += reason;
	};
	std::uint32_t explained = 0;
	auto has = [&flags, &explained](std::uint32_t bits) {
		explained |= bits;
		return (flags & bits) != 0;
	};

	if (!pins_.empty() && has(MBEDTLS_X509_BADCERT_OTHER))
		add(FingerprintMismatch());
	if (has(MBEDTLS_X509_BADCERT_NOT_TRUSTED))
		add("unknown CA (not signed by a trusted authority)");
	if (has(MBEDTLS_X509_BADCERT_EXPIRED))
		add(std::string(issuer_date_ ? "an issuing certificate" : "certificate") +
		    " expired" + (expired_on_.empty() ? "" : " on " + expired_on_));
	if (has(MBEDTLS_X509_BADCERT_FUTURE))
		add(std::string(issuer_date_ ? "an issuing certificate" : "certificate") +
		    " not yet valid" +
		    (valid_from_.empty() ? "" : " (valid from " + valid_from_ + ")"));
	if (has(MBEDTLS_X509_BADCERT_CN_MISMATCH))
		add(NameMismatch());
	if (has(MBEDTLS_X509_BADCERT_REVOKED))
		add("certificate revoked");
	if (has(MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
		MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
		add("certificate not meant for a TLS server (key usage)");
	if (has(MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
		MBEDTLS_X509_BADCERT_BAD_KEY))
		add("weak or unsupported signature algorithm or key");
	if ((flags & ~explained) != 0 || reasons.empty()) {
		char hex[16];
		std::snprintf(hex, sizeof(hex), "0x%x", static_cast<unsigned>(flags));
		add(std::string("verification failed (mbedTLS flags ") + hex + ")");
	}
	return reasons;
}

std::string TlsLayer::NameMismatch() const
{
	if (server_ip_.empty())
		return "name mismatch (certificate is for " +
		       (leaf_names_.empty() ? std::string("no host name")
					    : JoinNames(leaf_names_)) +
		       ")";
	// Names what was compared, in the form the certificate's addresses take.
	char ip[64] = "?";
	uv_inet_ntop(server_ip_.size() == 4 ? AF_INET : AF_INET6, server_ip_.data(), ip,
		     sizeof(ip));
	std::string text =
	    std::string("name mismatch: ") + ip +
	    " is not among the certificate's IP addresses (" +
	    (leaf_ips_.empty() ? std::string("none") : JoinNames(leaf_ips_)) + ")";
	if (!leaf_dns_.empty())
		text += ", and its DNS names (" + JoinNames(leaf_dns_) +
			") never match an IP address";
	else if (!leaf_cns_.empty())
		text += ", and its CN (" + JoinNames(leaf_cns_) +
			") never matches an IP address";
	return text;
}

TlsLayer::ReadResult TlsLayer::Read(std::span<char> out)
{
	const int ret = mbedtls_ssl_read(
	    &ssl_, reinterpret_cast<unsigned char *>(out.data()), out.size());
	if (ret > 0)
		return {static_cast<std::size_t>(ret), false};
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return {};
	// 0 would mean our f_recv reported EOF, which it never does; treat it alike.
	if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == 0)
		return {0, true};
	throw NetError(NetErrorKind::Io, "TLS error on the connection to " + peer_ +
					     ": " + MbedtlsText(ret));
}

std::size_t TlsLayer::Write(std::string_view plaintext)
{
	const int ret = mbedtls_ssl_write(
	    &ssl_, reinterpret_cast<const unsigned char *>(plaintext.data()),
	    plaintext.size());
	if (ret >= 0)
		return static_cast<std::size_t>(ret);
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return 0;
	throw NetError(NetErrorKind::Io, "TLS error on the connection to " + peer_ +
					     ": " + MbedtlsText(ret));
}

void TlsLayer::CloseNotify() noexcept
{
	mbedtls_ssl_close_notify(&ssl_);
}

} // namespace popstream::net
