# Multiboot v1 header and entry of the lab's bare-metal test VM: our own flat GDT (the loader's may be gone),
# a stack, then bf_main(multiboot info). Also the two interrupt stubs: the timer only wakes the idle loop.
	.set MAGIC, 0x1BADB002
	.set FLAGS, 0 # no alignment or memory map wanted: the guest uses neither
	.section .multiboot, "a"
	.align 4
	.long MAGIC, FLAGS, -(MAGIC + FLAGS)

	.text
	.globl _start
_start:
	cli
	lgdt gdt_descriptor
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov $stack_top, %esp
	push %ebx
	call bf_main
halt:
	hlt
	jmp halt

	.globl timer_entry
timer_entry: # IRQ 0: end of interrupt to the master PIC, nothing else
	push %eax
	mov $0x20, %al
	outb %al, $0x20
	pop %eax
	iret

	.globl ignore_entry
ignore_entry:
	iret

	.data
	.align 8
gdt:	.quad 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF # null, code 0x08, data 0x10: flat 4 GiB
gdt_descriptor:
	.word 23
	.long gdt

	.bss
	.align 16
	.space 65536
stack_top:

	.section .note.GNU-stack, "", @progbits
