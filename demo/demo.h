/* The sections of the demo's C program, ipc-demo (demo/main.c). */
#ifndef IPC_DEMO_H
#define IPC_DEMO_H

int demo_segment(int argc, char **argv);
int demo_mutex(int argc, char **argv);
int demo_sync(int argc, char **argv);
int demo_heap(int argc, char **argv);
int demo_chan(int argc, char **argv);

#endif
