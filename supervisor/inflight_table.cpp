#include "supervisor/inflight_table.hpp"

#include <algorithm>

namespace infervisor::supervisor {

void InFlightTable::add(JobPtr job, Clock::time_point dispatched, bool exclusive) {
  const auto id = job->id();
  Entry entry{{std::move(job)}, dispatched, exclusive};
  if (const auto it = entries_.find(id); it != entries_.end()) {
    jobs_ -= it->second.jobs.size();
    exclusive_ -= it->second.exclusive;
  }
  entries_.insert_or_assign(id, std::move(entry));
  exclusive_ += exclusive;
  ++jobs_;
}

void InFlightTable::add_batch(std::span<const JobPtr> jobs, Clock::time_point dispatched) {
  Entry entry{{jobs.begin(), jobs.end()}, dispatched, false};
  const auto id = entry.id();
  if (const auto it = entries_.find(id); it != entries_.end()) {
    jobs_ -= it->second.jobs.size();
    exclusive_ -= it->second.exclusive;
  }
  entries_.insert_or_assign(id, std::move(entry));
  jobs_ += jobs.size();
}

std::optional<InFlightTable::Entry> InFlightTable::take(std::uint64_t job_id) {
  const auto it = entries_.find(job_id);
  if (it == entries_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  exclusive_ -= entry.exclusive;
  jobs_ -= entry.jobs.size();
  return entry;
}

std::vector<InFlightTable::Entry> InFlightTable::take_all() {
  std::vector<Entry> all;
  all.reserve(entries_.size());
  for (auto& [id, entry] : entries_)
    all.push_back(std::move(entry));
  entries_.clear();
  exclusive_ = 0;
  jobs_ = 0;
  // Job ids grow with arrival: this is the order the client sent them in.
  std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return a.id() < b.id(); });
  return all;
}

const InFlightTable::Entry* InFlightTable::find(std::uint64_t job_id) const {
  const auto it = entries_.find(job_id);
  return it == entries_.end() ? nullptr : &it->second;
}

void InFlightTable::record_answer_time(std::chrono::nanoseconds took, std::size_t jobs) noexcept {
  // Enough to follow a change of batch size, not thrown off by one slow job.
  typical_ = typical_ == std::chrono::nanoseconds::zero() ? took : typical_ + (took - typical_) / 8;
  answered_ += jobs;
}

}  // namespace infervisor::supervisor
