// The jobs one worker has been given and has not answered yet, by the id of the record they went
// in (one job, or a dynamic batch under its lead job's id). Owned by the model's pool beside each
// worker process; pure bookkeeping, so it is unit-tested without a process.
//
// A job retried after its worker died runs alone ("exclusive"): while it is in flight the
// worker gets no other job, so if it kills this worker too, no innocent job dies with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "supervisor/job.hpp"

namespace infervisor::supervisor {

class InFlightTable {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    // One job, or a batch's jobs in the order of their rows; the first one's id is the record's.
    shm::SmallVector<JobPtr> jobs;
    Clock::time_point dispatched;
    bool exclusive = false;

    std::uint64_t id() const noexcept { return jobs.front()->id(); }
  };

  void add(JobPtr job, Clock::time_point dispatched, bool exclusive);
  void add_batch(std::span<const JobPtr> jobs, Clock::time_point dispatched);
  // The entry for an answer, removed; nullopt for an id that is not in flight.
  std::optional<Entry> take(std::uint64_t job_id);
  // Every entry, removed, in the order the jobs were dispatched (the worker died).
  std::vector<Entry> take_all();
  const Entry* find(std::uint64_t job_id) const;
  const std::unordered_map<std::uint64_t, Entry>& entries() const noexcept { return entries_; }

  std::size_t size() const noexcept { return entries_.size(); }  // records, not jobs
  std::size_t jobs() const noexcept { return jobs_; }
  bool empty() const noexcept { return entries_.empty(); }
  bool has_exclusive() const noexcept { return exclusive_ > 0; }
  // How long its recent jobs took from dispatch to answer (a moving average over about 8);
  // zero before the first answer.
  std::chrono::nanoseconds typical_job_time() const noexcept { return typical_; }
  // An answer for a record of `jobs` jobs arrived `took` after it was written.
  void record_answer_time(std::chrono::nanoseconds took, std::size_t jobs = 1) noexcept;
  // Jobs answered (a batch counts its jobs).
  std::uint64_t answered() const noexcept { return answered_; }

 private:
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::size_t exclusive_ = 0;
  std::size_t jobs_ = 0;
  std::chrono::nanoseconds typical_{0};
  std::uint64_t answered_ = 0;
};

}  // namespace infervisor::supervisor
