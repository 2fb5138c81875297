/* The floor for reading a capture: a bare libpcap loop over pcap_next_ex, touching
 * every captured byte once so the work cannot be skipped. */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char error[PCAP_ERRBUF_SIZE];
    if (argc < 2) { fprintf(stderr, "usage: pcap-floor FILE\n"); return 2; }
    pcap_t *handle = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, error);
    if (!handle) { fprintf(stderr, "%s\n", error); return 1; }
    struct pcap_pkthdr *header;
    const u_char *data;
    unsigned long packets = 0, sum = 0;
    while (pcap_next_ex(handle, &header, &data) == 1) {
        packets++;
        for (unsigned i = 0; i < header->caplen; i++) sum += data[i];
    }
    printf("%lu packets, checksum %lu\n", packets, sum);
    pcap_close(handle);
    return 0;
}
