// Header-only libtgvoip-compatible ServerConfig over the tgvoip C API (tgvoip-rs).
#ifndef TGVOIP_SERVERCONFIG_H
#define TGVOIP_SERVERCONFIG_H

#include <stdint.h>
#include <string>

#include "tgvoip.h"

namespace tgvoip {

// Stateless proxy for the process-wide server config. Unlike 2.4.4, Update merges the new keys
// into the current config instead of replacing it.
class ServerConfig {
public:
    static ServerConfig* GetSharedInstance() {
        static ServerConfig instance;
        return &instance;
    }
    void Update(std::string jsonString) { tgvoip_server_config_update(jsonString.c_str()); }
    int32_t GetInt(std::string name, int32_t fallback) {
        return tgvoip_server_config_get_int(name.c_str(), fallback);
    }
    double GetDouble(std::string name, double fallback) {
        return tgvoip_server_config_get_double(name.c_str(), fallback);
    }
    bool GetBoolean(std::string name, bool fallback) {
        return tgvoip_server_config_get_bool(name.c_str(), fallback);
    }
    std::string GetString(std::string name, std::string fallback) {
        char* out = NULL;
        if (tgvoip_server_config_get_string(name.c_str(), fallback.c_str(), &out) != TGVOIP_OK) return fallback;
        std::string s(out);
        tgvoip_string_free(out);
        return s;
    }
};

}  // namespace tgvoip

#endif
