// placeholder: the libuv/mbedTLS connection is written in the next commits
#include "Connection.hxx"
