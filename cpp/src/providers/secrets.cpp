#include "providers/secrets.hpp"

#include <algorithm>

namespace aignehub::providers {

namespace {

constexpr std::size_t shared_run = 6;

bool word_char(char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '"' && c != '\'' && c != ',' &&
           c != ';' && c != '(' && c != ')';
}

bool shares_run(std::string_view word, std::string_view secret) {
    if (word.size() < shared_run || secret.size() < shared_run) {
        return !secret.empty() && word.find(secret) != std::string_view::npos;
    }
    for (std::size_t i = 0; i + shared_run <= word.size(); ++i) {
        if (secret.find(word.substr(i, shared_run)) != std::string_view::npos) {
            return true;
        }
    }
    return false;
}

} // namespace

std::string mask(std::string_view secret) {
    const std::size_t show = std::min<std::size_t>(4, secret.size() / 4);
    if (secret.empty()) {
        return "";
    }
    if (show == 0) {
        return "****";
    }
    return std::string(secret.substr(0, show)) + "..." +
           std::string(secret.substr(secret.size() - show));
}

std::string scrub(std::string_view message, std::string_view secret) {
    if (secret.empty()) {
        return std::string(message);
    }
    std::string out;
    out.reserve(message.size());
    std::size_t i = 0;
    while (i < message.size()) {
        if (!word_char(message[i])) {
            out.push_back(message[i++]);
            continue;
        }
        std::size_t end = i;
        while (end < message.size() && word_char(message[end])) {
            ++end;
        }
        const std::string_view word = message.substr(i, end - i);
        out.append(shares_run(word, secret) ? "[redacted]" : word);
        i = end;
    }
    return out;
}

} // namespace aignehub::providers
