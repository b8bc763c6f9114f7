#include "gateway/openai_wire.hpp"
#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aignehub::gateway {
namespace {

std::vector<std::string> split(event_splitter& s, std::string_view piece) {
    std::vector<std::string> events;
    s.feed(piece, [&](std::string_view e) { events.emplace_back(e); });
    return events;
}

TEST(EventSplitter, HandsOverEachEventOnceItsBlankLineArrives) {
    event_splitter s;
    EXPECT_TRUE(split(s, "data: {\"a\":1}\n").empty());
    EXPECT_EQ(split(s, "\ndata: {\"b\"").size(), 1U);
    const auto rest = split(s, ":2}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n");
    ASSERT_EQ(rest.size(), 3U);
    EXPECT_EQ(rest[0], "data: {\"b\":2}\r\n\r\n");
    EXPECT_EQ(rest[2], "data: [DONE]\n\n");
    EXPECT_TRUE(s.rest().empty());
}

TEST(EventSplitter, NdjsonSplitsPerLine) {
    event_splitter s(true);
    const auto events = split(s, "{\"a\":1}\n{\"b\":");
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(s.rest(), "{\"b\":");
}

TEST(SseEvent, JoinsDataLinesAndReadsTheName) {
    const auto e = parse_event("event: error\ndata: one\r\ndata:two\n: comment\n\n");
    EXPECT_EQ(e.name, "error");
    EXPECT_EQ(e.data, "one\ntwo");
}

TEST(ChatEvents, PlainDeltasPassUnparsedAfterTheFirst) {
    stream_state st;
    const std::string first =
        "data: {\"id\":\"x\",\"model\":\"m-1\",\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n";
    EXPECT_EQ(process_chat_event(first, st).verdict, chunk_verdict::pass);
    EXPECT_EQ(st.model, "m-1");
    EXPECT_EQ(process_chat_event("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n", st)
                  .verdict,
              chunk_verdict::pass);
    EXPECT_EQ(process_chat_event("data: [DONE]\n\n", st).verdict, chunk_verdict::done);
}

TEST(ChatEvents, TheUsageOnlyChunkIsDroppedUnlessAskedForAndAlwaysCounted) {
    const std::string usage = "data: {\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":"
                              "3,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_"
                              "tokens\":2},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}"
                              "\n\n";
    stream_state quiet;
    quiet.model = "m";
    EXPECT_EQ(process_chat_event(usage, quiet).verdict, chunk_verdict::drop);
    EXPECT_EQ(quiet.usage.prompt, 3);
    EXPECT_EQ(quiet.usage.completion, 5);
    EXPECT_EQ(quiet.usage.cached, 2);
    EXPECT_EQ(quiet.usage.reasoning, 1);
    stream_state asked;
    asked.model = "m";
    asked.client_wants_usage = true;
    EXPECT_EQ(process_chat_event(usage, asked).verdict, chunk_verdict::pass);
    EXPECT_EQ(asked.usage.completion, 5);
}

TEST(ChatEvents, ErrorsInDataOrAsAnEventEndTheStream) {
    stream_state st;
    st.model = "m";
    EXPECT_EQ(process_chat_event("data: {\"error\":{\"message\":\"overloaded\"}}\n\n", st).verdict,
              chunk_verdict::error);
    EXPECT_EQ(st.error, "overloaded");
    stream_state named;
    named.model = "m";
    EXPECT_EQ(process_chat_event("event: error\ndata: boom\n\n", named).verdict,
              chunk_verdict::error);
    EXPECT_EQ(named.error, "boom");
}

TEST(ChatEvents, QuirksAreNormalised) {
    stream_state st;
    st.model = "m";
    st.client_wants_usage = true;
    const auto reasoning =
        process_chat_event("data: {\"choices\":[{\"delta\":{\"reasoning\":\"hm\"}}]}\n\n", st);
    ASSERT_EQ(reasoning.verdict, chunk_verdict::replace);
    EXPECT_NE(reasoning.replacement.find("\"reasoning_content\":\"hm\""), std::string::npos);
    const auto groq = process_chat_event(
        "data: {\"choices\":[],\"x_groq\":{\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":"
        "6}}}\n\n",
        st);
    ASSERT_EQ(groq.verdict, chunk_verdict::replace);
    EXPECT_NE(groq.replacement.find("\"usage\":{\"prompt_tokens\":4"), std::string::npos);
    EXPECT_EQ(st.usage.completion, 6);
}

TEST(ChatAnswers, ContentPartsBecomeTextAndThinkingBecomesReasoning) {
    auto body = ojson::parse(R"({"choices":[{"message":{"role":"assistant","content":[
        {"type":"thinking","thinking":[{"type":"text","text":"step"}]},
        {"type":"text","text":"4"}]}}]})");
    EXPECT_TRUE(normalise_chat(body));
    EXPECT_EQ(body["choices"][0]["message"]["content"], "4");
    EXPECT_EQ(body["choices"][0]["message"]["reasoning_content"], "step");
    auto plain = ojson::parse(R"({"choices":[{"message":{"content":"4"}}]})");
    EXPECT_FALSE(normalise_chat(plain));
}

TEST(Requests, KnownFieldsAreTypeCheckedAndUnknownOnesPass) {
    const auto ok = ojson::parse(
        R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"x_new":[1]})");
    EXPECT_FALSE(check_request(endpoint::chat, ok));
    const auto bad = ojson::parse(R"({"model":"m","messages":[{"role":"user"}],"stream":"yes"})");
    ASSERT_TRUE(check_request(endpoint::chat, bad));
    EXPECT_EQ(check_request(endpoint::chat, bad)->param, "stream");
    const auto no_model = ojson::parse(R"({"messages":[]})");
    EXPECT_EQ(check_request(endpoint::chat, no_model)->param, "model");
    const auto no_role = ojson::parse(R"({"model":"m","messages":[{"content":"x"}]})");
    EXPECT_EQ(check_request(endpoint::chat, no_role)->param, "messages[0].role");
    const auto no_input = ojson::parse(R"({"model":"m"})");
    EXPECT_EQ(check_request(endpoint::embeddings, no_input)->param, "input");
}

TEST(UpstreamErrors, EveryShapeBecomesAMessage) {
    EXPECT_EQ(
        read_error(401, R"({"error":{"message":"bad key","type":"auth","code":"x"}})").message,
        "bad key");
    EXPECT_EQ(read_error(401, R"({"detail":"Invalid API Key"})").message, "Invalid API Key");
    EXPECT_EQ(read_error(503, R"({"code":"c","error":"at capacity"})").message, "at capacity");
    EXPECT_EQ(read_error(502, "<html>\nbad gateway</html>").message,
              "the provider answered 502: <html> bad gateway</html>");
}

} // namespace
} // namespace aignehub::gateway
