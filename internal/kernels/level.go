package kernels

// The instruction sets the kernels have code for, best last. best is the
// best one this CPU (and OS) runs, level the one in use: tests lower it to
// check each path against the others. Both are set in kernel_amd64.go or
// kernel_other.go.
const (
	levelGo = iota
	levelAVX2
	levelAVX512
)

// levelNames are the names Accelerated reports, indexed by level.
var levelNames = [...]string{levelGo: "go", levelAVX2: "avx2", levelAVX512: "avx512"}

// UseAssembly turns the assembly kernels (AVX-512, or AVX2 with FMA) on or
// off and returns whether they were on; a CPU without either, and a build
// with the purego tag, always runs the portable Go ones. Tests use it to
// check the portable path against the fast one; it must not race with a
// running kernel.
func UseAssembly(on bool) (was bool) {
	was = level != levelGo
	level = levelGo
	if on {
		level = best
	}
	return was
}

// Accelerated names the instruction set the kernels run on: "avx512",
// "avx2" or "go".
func Accelerated() string { return levelNames[level] }
