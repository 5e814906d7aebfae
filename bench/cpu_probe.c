/* cpu_probe.c - what the benchmark's CPUs are, measured rather than reported.
 *
 * A VM's lscpu may say "1 thread per core" for two vCPUs that are SMT
 * siblings of one physical core on the host. Compute-bound code (locus's
 * kernels) then gets about one core's multiply-add units for two threads,
 * while code that waits on memory or on its own overhead loses less, so the
 * ratio of two implementations depends on it. This probe runs the same
 * multiply-add loop (12 independent AVX2 FMA chains, no memory traffic) on one
 * thread pinned to CPU 0, then on two threads pinned to CPUs 0 and 1, and
 * prints the two-thread speed-up: about 2 on two real cores, about 1 on two
 * siblings (or on a host that runs both vCPUs on one core).
 *
 * Then the memory bandwidth two threads get (a triad, a[i] = b[i] + s c[i],
 * over 3 x 64 MiB, counted as 3 x 4 bytes an element): B's fused AdamW update
 * is bound by it, PyTorch much less, so a neighbour on the host that takes
 * bandwidth moves the ratio; the line lets two runs be compared.
 *
 *   cc -O2 -mavx2 -mfma -pthread bench/cpu_probe.c -o cpu_probe && ./cpu_probe
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { kChains = 12 }; /* + 2 constants: within AVX2's 16 registers */
static const long kIterations = 200L * 1000 * 1000 / kChains * 8;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void pinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* Seconds of the fastest of `rounds` runs of fn on `threads` threads, thread
 * i pinned to CPU i and given i as its argument. */
static double fastest(void *(*fn)(void *), int threads, int rounds) {
  double best = 0;
  for (int round = 0; round < rounds; ++round) {
    pthread_t t[2];
    const double start = now();
    for (int i = 0; i < threads; ++i)
      pthread_create(&t[i], NULL, fn, (void *)(long)i);
    for (int i = 0; i < threads; ++i)
      pthread_join(t[i], NULL);
    const double seconds = now() - start;
    if (round == 0 || seconds < best)
      best = seconds;
  }
  return best;
}

/* Multiply-adds on registers only; the result is kept so that none is dropped. */
static float sink[2];
static void *work(void *arg) {
  const int cpu = (int)(long)arg;
  pinTo(cpu);
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < kChains; ++i)
    acc[i] = _mm256_set1_ps((float)i);
  for (long it = 0; it < kIterations; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < kChains; ++i)
    s = _mm256_add_ps(s, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  sink[cpu & 1] = lanes[0];
  return NULL;
}

/* GFLOP/s of `threads` threads on CPUs 0 .. threads - 1, best of 3. */
static double measure(int threads) {
  return threads * (double)kIterations * kChains * 8 * 2 / fastest(work, threads, 3) / 1e9;
}

enum { kTriadElements = 16 * 1024 * 1024 }; /* 64 MiB an array */
static float *triadA, *triadB, *triadC;

/* Half of the triad, on CPU `half`. */
static void *triad(void *arg) {
  const int half = (int)(long)arg;
  pinTo(half);
  const long begin = half * (long)kTriadElements / 2, end = begin + kTriadElements / 2;
  for (long i = begin; i < end; ++i)
    triadA[i] = triadB[i] + 0.5f * triadC[i];
  return NULL;
}

/* GB/s of the triad on two threads, best of 5 (0 when memory is short). */
static double bandwidth(void) {
  triadA = malloc(sizeof(float) * kTriadElements);
  triadB = malloc(sizeof(float) * kTriadElements);
  triadC = malloc(sizeof(float) * kTriadElements);
  if (!triadA || !triadB || !triadC)
    return 0;
  for (long i = 0; i < kTriadElements; ++i) {
    triadA[i] = 0;
    triadB[i] = 1;
    triadC[i] = 2;
  }
  const double best = 3.0 * sizeof(float) * kTriadElements / fastest(triad, 2, 5) / 1e9;
  sink[1] = triadA[kTriadElements / 3];
  free(triadA);
  free(triadB);
  free(triadC);
  return best;
}

int main(void) {
  const double one = measure(1), two = measure(2);
  printf("fma probe (AVX2, registers only): 1 thread %.1f GFLOP/s, 2 threads %.1f GFLOP/s: "
         "x%.2f (about 2: two cores; about 1: SMT siblings or one host core); "
         "memory, 2 threads: %.1f GB/s (triad)\n",
         one, two, two / one, bandwidth());
  return sink[0] == 12345.0f; /* never: keeps the sums */
}
