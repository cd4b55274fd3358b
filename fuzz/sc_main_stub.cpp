// libsystemc.so defines main(), which calls sc_main: a program that links SystemC but brings its
// own main (libFuzzer's, replay_main.cpp's) still needs the symbol. It never runs.
extern "C" int sc_main(int, char*[]) { return 1; }  // C linkage, as SystemC declares it
