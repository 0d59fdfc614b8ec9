#pragma once

// The state transitions' Lua scripts, one file each in services/state-tracker/lua/, embedded at build
// time (rainbow_embed_text). kCommon is prepended to every other script (the key prefix, the clock,
// the record and outbox helpers); each script documents its KEYS and ARGV at its top.
namespace rainbow::state::lua {

extern const char* const kCommon;
extern const char* const kRegister;
extern const char* const kClaim;
extern const char* const kHeartbeat;
extern const char* const kComplete;
extern const char* const kFail;
extern const char* const kSweep;
extern const char* const kGet;
extern const char* const kList;
extern const char* const kStats;
extern const char* const kRedrive;
extern const char* const kRemove;

}  // namespace rainbow::state::lua
