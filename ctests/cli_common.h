// Shared argument parsing and file helpers of the two C++ call programs (tgvoip-call's arguments).
#ifndef TGVOIP_CTEST_CLI_COMMON_H
#define TGVOIP_CTEST_CLI_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

struct CallArgs {
    std::string host;
    uint16_t port = 0;
    unsigned char tag[16] = {0};
    std::vector<uint8_t> key;
    std::string in, out, pre, config;
    bool caller = true;
};

inline bool parseHex(const std::string& s, std::vector<uint8_t>& out) {
    if (s.size() % 2) return false;
    out.clear();
    for (size_t i = 0; i < s.size(); i += 2) {
        unsigned v;
        if (sscanf(s.substr(i, 2).c_str(), "%2x", &v) != 1) return false;
        out.push_back((uint8_t)v);
    }
    return true;
}

inline bool parseArgs(int argc, char** argv, CallArgs& a) {
    std::vector<std::string> pos;
    for (int i = 1; i < argc; i++) {
        std::string k = argv[i];
        if (k.size() > 1 && k[0] == '-' && i + 1 < argc) {
            std::string v = argv[++i];
            if (k == "-k") parseHex(v, a.key);
            else if (k == "-i") a.in = v;
            else if (k == "-o") a.out = v;
            else if (k == "-p") a.pre = v;
            else if (k == "-c") a.config = v;
            else if (k == "-r") a.caller = v == "caller";
        } else {
            pos.push_back(k);
        }
    }
    if (pos.size() != 2 || a.key.size() != 256 || a.in.empty() || a.out.empty()) return false;
    size_t colon = pos[0].rfind(':');
    if (colon == std::string::npos) return false;
    a.host = pos[0].substr(0, colon);
    a.port = (uint16_t)atoi(pos[0].substr(colon + 1).c_str());
    std::vector<uint8_t> tag;
    if (!parseHex(pos[1], tag) || tag.size() != 16) return false;
    memcpy(a.tag, tag.data(), 16);
    return true;
}

inline std::vector<int16_t> readPcm(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<int16_t> pcm(bytes.size() / 2);
    if (!pcm.empty()) memcpy(pcm.data(), bytes.data(), pcm.size() * 2);
    return pcm;
}

inline std::string readText(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Microphone from a preloaded file and a preallocated recording: no allocation or I/O on the
// audio thread. Input starts once the call is established.
struct FileAudio {
    std::vector<int16_t> in;
    std::vector<int16_t> heard;
    std::atomic<size_t> inPos{0}, heardLen{0};
    std::atomic<bool> started{false};
    void input(int16_t* buf, size_t n) {
        if (!started.load()) return;
        size_t p = inPos.load();
        for (size_t i = 0; i < n && p < in.size(); i++) buf[i] = in[p++];
        inPos.store(p);
    }
    void output(int16_t* buf, size_t n) {
        size_t l = heardLen.load();
        for (size_t i = 0; i < n && l < heard.size(); i++) heard[l++] = buf[i];
        heardLen.store(l);
    }
    bool inputDone() const { return inPos.load() >= in.size(); }
    bool save(const std::string& path) {
        FILE* f = fopen(path.c_str(), "wb");
        if (!f) return false;
        fwrite(heard.data(), 2, heardLen.load(), f);
        fclose(f);
        size_t nonzero = 0;
        for (size_t i = 0; i < heardLen.load(); i++) nonzero += heard[i] != 0;
        return nonzero > 48000;  // at least a second of non-silent audio
    }
};
#endif
