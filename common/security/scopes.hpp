#pragma once

#include <string_view>

namespace rainbow::security::scope {

// Every scope a token in AUTH_TOKENS_FILE can carry, one place for all services ("*" grants all).
inline constexpr std::string_view kOrdersRead = "orders:read";  // order-api GetOrder, ListOrders, GET routes
inline constexpr std::string_view kOrdersWrite =
    "orders:write";                                             // order-api CreateOrder, POST /api/v1/orders
inline constexpr std::string_view kCdcRead = "cdc:read";        // cdc-producer GetStatus
inline constexpr std::string_view kCdcAdmin = "cdc:admin";      // cdc-producer Resnapshot
inline constexpr std::string_view kFilesRead = "files:read";    // state-tracker Get, List, Stats
inline constexpr std::string_view kFilesWrite = "files:write";  // state-tracker Register..Fail (workers)
inline constexpr std::string_view kFilesAdmin = "files:admin";  // state-tracker Redrive
inline constexpr std::string_view kFilesConvert = "files:convert";  // s3-converter Convert
inline constexpr std::string_view kLoaderRead = "loader:read";      // loader GetStatus
inline constexpr std::string_view kLoaderAdmin = "loader:admin";    // loader Reconcile, Backfill

}  // namespace rainbow::security::scope
