// A C++ program: reads text on stdin, prints the ten most frequent words with their counts, then
// a checksum of all words. Exercises libc++ (iostream, string, unordered_map, vector, sort),
// constructors of globals and heap allocation.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Counter {
    std::unordered_map<std::string, std::uint64_t> counts;
    std::uint64_t total = 0;

    void add(std::string word) {
        for (char &c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        ++counts[word];
        ++total;
    }
};

// A global with a constructor: checks that static initialization runs before main.
const std::string kBanner = std::string("word") + "freq";

}  // namespace

int main() {
    std::ios::sync_with_stdio(false);
    Counter counter;
    std::string word;
    char c;
    while (std::cin.get(c)) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            word.push_back(c);
        } else if (!word.empty()) {
            counter.add(word);
            word.clear();
        }
    }
    if (!word.empty()) counter.add(word);

    std::vector<std::pair<std::string, std::uint64_t>> sorted(counter.counts.begin(),
                                                              counter.counts.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::cout << kBanner << ": " << counter.total << " words, " << sorted.size() << " distinct\n";
    for (std::size_t i = 0; i < sorted.size() && i < 10; ++i) {
        std::cout << sorted[i].first << ' ' << sorted[i].second << '\n';
    }
    std::uint64_t hash = 1469598103934665603ull;
    for (const auto &[w, n] : sorted) {
        for (char ch : w) hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
        hash = (hash ^ n) * 1099511628211ull;
    }
    std::cout << "checksum " << hash << '\n';
    return 0;
}
